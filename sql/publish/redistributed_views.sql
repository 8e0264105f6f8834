-- The redistribution views (re)created at every publication: each account's `unlogged` dollars
-- spread over the classes the logs attribute (user, each background job type, each retry family),
-- per (usage_date, provider, billing_account), in proportion to their dollars or evenly. The
-- stored marts keep the raw residual; these are views over them. Exact in integer picodollars:
-- each share is floor(unlogged x weight / total weight), and the remainder goes to the account's
-- largest row (by cost, then spend_class, then job_type), so every account still sums to its
-- invoice exactly (and so to the cent). Non-token charges stay on their own row; an account with
-- unlogged dollars but no attributed row with dollars keeps its `unlogged` row.
create or replace view redistribution_base as
with reconciliation as (
    select * from fct_spend_reconciliation
),

dark as (
    select * from fct_dark_compute
),

account_status as (
    select
        usage_date,
        provider,
        billing_account,
        case
            when bool_or(status = 'provisional') then 'provisional'
            when bool_or(status = 'estimated') then 'estimated'
            else 'final'
        end as status,
        sum(unlogged_cost_usd) as unlogged_cost_usd
    from reconciliation
    group by all
),

classes as (
    select
        usage_date,
        provider,
        billing_account,
        'user' as spend_class,
        '__user__' as job_type,
        sum(user_cost_usd) as cost_usd
    from reconciliation
    group by all
    having sum(user_cost_usd) <> 0
    union all
    select
        usage_date,
        provider,
        billing_account,
        dark_class as spend_class,
        job_type,
        sum(cost_usd) as cost_usd
    from dark
    where dark_class in ('background', 'retry')
    group by all
    union all
    select
        usage_date,
        provider,
        billing_account,
        'non_token' as spend_class,
        '__non_token__' as job_type,
        sum(non_token_cost_usd) as cost_usd
    from reconciliation
    where model = '__non_token__'
    group by all
),

eligible as (
    select
        classes.*,
        classes.spend_class in ('user', 'background', 'retry') and classes.cost_usd > 0 as takes_share,
        -- the proportional weight: the row's dollars in whole microdollars (a product that stays
        -- inside HUGEINT for any invoice)
        case
            when classes.spend_class in ('user', 'background', 'retry') and classes.cost_usd > 0
                then floor(classes.cost_usd * 1000000)::hugeint
            else 0::hugeint
        end as weight
    from classes
),

totals as (
    select
        usage_date,
        provider,
        billing_account,
        count(*) filter (where takes_share) as takers,
        sum(weight) as total_weight
    from eligible
    group by all
),

accounts as (
    select
        account_status.*,
        (account_status.unlogged_cost_usd * 1000000000000)::hugeint as unlogged_pico,
        coalesce(totals.takers, 0) as takers,
        coalesce(totals.total_weight, 0) as total_weight
    from account_status
    left join totals
        using (usage_date, provider, billing_account)
),

ranked as (
    select
        eligible.*,
        accounts.status,
        accounts.unlogged_pico,
        accounts.takers,
        accounts.total_weight,
        row_number() over (
            partition by eligible.usage_date, eligible.provider, eligible.billing_account
            order by eligible.takes_share desc, eligible.cost_usd desc, eligible.spend_class asc, eligible.job_type asc
        ) as size_rank
    from eligible
    inner join accounts using (usage_date, provider, billing_account)
),

kept_unlogged as (
    select
        usage_date,
        provider,
        billing_account,
        'unlogged' as spend_class,
        '__unlogged__' as job_type,
        unlogged_cost_usd as cost_usd,
        false as takes_share,
        0::hugeint as weight,
        status,
        unlogged_pico,
        takers,
        total_weight,
        0 as size_rank
    from accounts
    where takers = 0 and unlogged_pico <> 0
)

select * from ranked
union all
select * from kept_unlogged;

-- Both views from one computation: a share is floor(unlogged x weight / total weight), the
-- weight a row's dollars, or 1 when `evenly` (or when every row is under a microdollar), so the
-- even share is floor(unlogged / takers); the remainder goes to the account's largest row.
create or replace macro redistributed_spend(evenly) as table
    with base as (
        select * from redistribution_base
    ),

    shares as (
        select
            *,
            case
                when not takes_share then 0::hugeint
                when evenly or total_weight = 0 then unlogged_pico // takers
                else unlogged_pico * weight // total_weight
            end as share_pico
        from base
    ),

    final as (
        select
            *,
            (
                (
                    share_pico
                    + case
                        when size_rank = 1 and takes_share
                            then
                                unlogged_pico
                                - sum(share_pico) over (partition by usage_date, provider, billing_account)
                        else 0
                    end
                )::decimal(38, 0) * 0.000000000001
            )::decimal(38, 12) as unlogged_share_usd
        from shares
    )

    select
        usage_date,
        provider,
        billing_account,
        spend_class,
        job_type,
        cost_usd::decimal(38, 12) as cost_usd,
        unlogged_share_usd,
        (cost_usd + unlogged_share_usd)::decimal(38, 12) as redistributed_cost_usd,
        status
    from final;

create or replace view redistributed_spend_proportional as
select * from redistributed_spend(false);

create or replace view redistributed_spend_even as
select * from redistributed_spend(true);
