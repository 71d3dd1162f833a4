namespace Tollbooth.Naive;

/// <summary>
/// The seed's tables: every click as a raw row with a B-tree index on (campaign_id, created_at), a counter
/// row per campaign and hour, and, for <c>aggregated_count</c>, a counter row per ad and minute.
/// </summary>
public static class NaiveSchema
{
    public const string Create = """
        CREATE TABLE IF NOT EXISTS clicks (
            id            bigserial   PRIMARY KEY,
            click_id      text        NOT NULL,
            ad_id         text        NOT NULL,
            advertiser_id text        NOT NULL,
            campaign_id   text        NOT NULL,
            publisher_id  text        NOT NULL,
            user_id       text        NOT NULL,
            ip_hash       text        NOT NULL,
            country       text        NOT NULL,
            device        smallint    NOT NULL,
            user_agent    text        NOT NULL,
            cost_micros   bigint      NOT NULL,
            created_at    timestamptz NOT NULL,
            received_at   timestamptz NOT NULL);
        CREATE INDEX IF NOT EXISTS clicks_campaign_created ON clicks (campaign_id, created_at);
        CREATE TABLE IF NOT EXISTS campaign_aggregates (
            campaign_id  text        NOT NULL,
            hour_bucket  timestamptz NOT NULL,
            clicks       bigint      NOT NULL,
            spend_micros bigint      NOT NULL,
            PRIMARY KEY (campaign_id, hour_bucket));
        CREATE TABLE IF NOT EXISTS ad_minute_counts (
            ad_id         text        NOT NULL,
            minute_bucket timestamptz NOT NULL,
            advertiser_id text        NOT NULL,
            clicks        bigint      NOT NULL,
            PRIMARY KEY (ad_id, minute_bucket));
        CREATE TABLE IF NOT EXISTS api_keys (
            key_id        text        PRIMARY KEY,
            role          smallint    NOT NULL,
            publisher_id  text,
            advertiser_id text,
            secret_hash   text        NOT NULL UNIQUE,
            created_at    timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS naive_settings (
            name  text  PRIMARY KEY,
            value bytea NOT NULL);
        """;

    public const string InsertClick = """
        INSERT INTO clicks (click_id, ad_id, advertiser_id, campaign_id, publisher_id, user_id, ip_hash, country,
                            device, user_agent, cost_micros, created_at, received_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """;

    public const string IncrementCampaignHour = """
        INSERT INTO campaign_aggregates (campaign_id, hour_bucket, clicks, spend_micros) VALUES ($1, $2, 1, $3)
        ON CONFLICT (campaign_id, hour_bucket)
        DO UPDATE SET clicks = campaign_aggregates.clicks + 1, spend_micros = campaign_aggregates.spend_micros + EXCLUDED.spend_micros
        """;

    public const string IncrementAdMinute = """
        INSERT INTO ad_minute_counts (ad_id, minute_bucket, advertiser_id, clicks) VALUES ($1, $2, $3, 1)
        ON CONFLICT (ad_id, minute_bucket) DO UPDATE SET clicks = ad_minute_counts.clicks + 1
        """;

    public const string CountAdMinutes = """
        SELECT coalesce(sum(clicks), 0)::bigint FROM ad_minute_counts
        WHERE ad_id = $1 AND minute_bucket >= $2 AND minute_bucket < $3
        """;

    public const string OwnerOfAd = "SELECT advertiser_id FROM ad_minute_counts WHERE ad_id = $1 LIMIT 1";
}
