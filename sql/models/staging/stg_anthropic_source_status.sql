-- Whether Anthropic's cost_report for the day has arrived: 'ok' (lines for the day), 'empty'
-- (delivered, no lines), 'incomplete' (the folder holding the day's lines, else the day's own, is
-- a listing cut short: every page says has_more) or 'missing'. A missing or incomplete export
-- makes the day provisional, never $0 or a part of the invoice published final.
{{ cost_export_status('anthropic', 'anthropic_costs') }}
