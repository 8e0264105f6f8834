-- The report's "Cost against users" section: fct_cost_growth's rows of the latest whole ISO week
-- that ends within $date_from .. $date_to (a partial week is never compared), fastest cost
-- growth over 4 weeks first (subjects without a comparable week after), at most $top rows.
with latest as (
    select max(week_start) as week_start
    from fct_cost_growth
    where whole_week and week_end between $date_from and $date_to
)

select
    fct_cost_growth.subject,
    fct_cost_growth.subject_kind as kind,
    fct_cost_growth.iso_week,
    fct_cost_growth.active_users,
    fct_cost_growth.cost_usd,
    fct_cost_growth.cost_per_active_user_usd,
    fct_cost_growth.background_to_user_ratio,
    fct_cost_growth.cost_growth_4w_ratio,
    fct_cost_growth.users_growth_4w_ratio,
    fct_cost_growth.cost_growth_12w_ratio,
    fct_cost_growth.users_growth_12w_ratio
from fct_cost_growth
inner join latest on fct_cost_growth.week_start = latest.week_start
order by
    fct_cost_growth.cost_growth_4w_ratio desc nulls last,
    fct_cost_growth.cost_usd desc,
    fct_cost_growth.subject_kind asc,
    fct_cost_growth.subject asc
limit $top
