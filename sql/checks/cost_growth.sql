-- The features and job types whose cost outgrew their users over the trailing 4 weeks, in the
-- latest whole ISO week that ends on or before $day (fct_cost_growth, made by
-- publish/cost_growth_view.sql over the lake's partitions): the cost grew by more than $factor
-- times the users' growth (cost_growth_4w_ratio - 1 > $factor x (users_growth_4w_ratio - 1), a
-- shrinking user base counting as no growth) and by at least $min_rate (so noise on a flat user
-- base is no alarm). Growth exists only between two whole weeks 4 weeks apart.
with latest as (
    select max(week_start) as week_start
    from fct_cost_growth
    where whole_week and week_end <= $day
),

limits as (
    select
        $factor::decimal(18, 6) as factor,
        $min_rate::decimal(18, 6) as min_rate
)

select
    fct_cost_growth.subject_kind,
    fct_cost_growth.subject,
    fct_cost_growth.iso_week,
    fct_cost_growth.cost_usd,
    fct_cost_growth.cost_growth_4w_ratio,
    fct_cost_growth.active_users,
    fct_cost_growth.users_growth_4w_ratio,
    fct_cost_growth.cost_per_active_user_usd
from fct_cost_growth
inner join latest on fct_cost_growth.week_start = latest.week_start
cross join limits
where
    fct_cost_growth.subject_kind in ('feature', 'job_type')
    and fct_cost_growth.cost_growth_4w_ratio - 1
    > limits.factor * greatest(fct_cost_growth.users_growth_4w_ratio - 1, 0)
    and fct_cost_growth.cost_growth_4w_ratio - 1 >= limits.min_rate
order by
    fct_cost_growth.cost_growth_4w_ratio desc, fct_cost_growth.subject_kind asc, fct_cost_growth.subject asc
