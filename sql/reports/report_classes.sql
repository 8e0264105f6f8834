-- Per provider and day, three bars stacked by class: the invoice (every class), what the logs
-- attribute (user + background + retry) and dark compute (background + retry + unlogged).
-- `stack_order` puts the dark classes at the bottom of every bar. `usd_plot` is the chart's
-- coordinate only (a double); the report's figures are read from the decimals. `status` is the
-- day's, as report_days.sql gives it.
with days as (
    select
        provider,
        usage_date,
        sum(user_cost_usd) as user_usd,
        sum(background_cost_usd) as background_usd,
        sum(retry_cost_usd) as retry_usd,
        sum(unlogged_cost_usd) as unlogged_usd,
        sum(non_token_cost_usd) as non_token_usd,
        case
            when bool_or(status = 'provisional') then 'provisional'
            when bool_or(status = 'estimated') then 'estimated'
            else 'final'
        end as status
    from fct_spend_reconciliation
    where usage_date between $date_from and $date_to
    group by provider, usage_date
),

classes as (
    unpivot days
    on user_usd, background_usd, retry_usd, unlogged_usd, non_token_usd
    into name class_column value usd
),

bars as (
    -- the lists are zipped: one row per (bar, class in it)
    select
        unnest([
            'invoice', 'invoice', 'invoice', 'invoice', 'invoice', 'attributed', 'attributed', 'attributed',
            'dark', 'dark', 'dark'
        ]) as bar,
        unnest([1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3]) as bar_order,
        unnest([
            'background', 'retry', 'unlogged', 'user', 'non_token', 'background', 'retry', 'user',
            'background', 'retry', 'unlogged'
        ]) as cost_class,
        unnest([1, 2, 3, 4, 5, 1, 2, 4, 1, 2, 3]) as stack_order
)

select
    classes.provider,
    strftime(classes.usage_date, '%Y-%m-%d') as usage_date,
    bars.bar,
    bars.bar_order,
    bars.cost_class,
    bars.stack_order,
    classes.usd,
    cast(classes.usd as double) as usd_plot,
    classes.status
from classes
inner join bars
    on classes.class_column = bars.cost_class || '_usd'
order by classes.provider asc, classes.usage_date asc, bars.bar_order asc, bars.stack_order asc
