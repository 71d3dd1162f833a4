namespace Tollbooth.Ingest.Parsing;

public sealed partial class ClickRecordParser
{
    /// <summary>The click fields the rules read, by number, and their JSON names.</summary>
    private static class Fields
    {
        public const int None = -1;
        public const int ClickId = 0;
        public const int AdId = 1;
        public const int CampaignId = 2;
        public const int AdvertiserId = 3;
        public const int PublisherId = 4;
        public const int UserId = 5;
        public const int Ip = 6;
        public const int Country = 7;
        public const int Device = 8;
        public const int UserAgent = 9;
        public const int Timestamp = 10;
        public const int CostMicros = 11;
        public const int Token = 12;
        public const int Count = 13;

        public static ReadOnlySpan<byte> NameOf(int field) => field switch
        {
            ClickId => "click_id"u8,
            AdId => "ad_id"u8,
            CampaignId => "campaign_id"u8,
            AdvertiserId => "advertiser_id"u8,
            PublisherId => "publisher_id"u8,
            UserId => "user_id"u8,
            Ip => "ip"u8,
            Country => "country"u8,
            Device => "device"u8,
            UserAgent => "user_agent"u8,
            Timestamp => "timestamp"u8,
            CostMicros => "cost_micros"u8,
            _ => "token"u8,
        };

        /// <summary>The field a plain (unescaped) property name is, or <see cref="None"/>.</summary>
        public static int Of(ReadOnlySpan<byte> name) => name.Length switch
        {
            2 => Is(name, Ip),
            5 => name[0] == (byte)'a' ? Is(name, AdId) : Is(name, Token),
            6 => Is(name, Device),
            7 => name[0] == (byte)'u' ? Is(name, UserId) : Is(name, Country),
            8 => Is(name, ClickId),
            9 => Is(name, Timestamp),
            10 => Is(name, UserAgent),
            11 => name[1] == (byte)'a' ? Is(name, CampaignId) : Is(name, CostMicros),
            12 => Is(name, PublisherId),
            13 => Is(name, AdvertiserId),
            _ => None,
        };

        private static int Is(ReadOnlySpan<byte> name, int field) => name.SequenceEqual(NameOf(field)) ? field : None;
    }

    /// <summary>
    /// Where the current click's values live in <see cref="Request.Scratch"/>: first the unescaped text fields (each at
    /// most three UTF-8 bytes per allowed character), then the canonical IP, its hash, the country, a derived click id
    /// and the text it is hashed from.
    /// </summary>
    private static class ScratchLayout
    {
        public const int TextBytes = 3 * (128 + 64 + 64 + 64 + 64 + 128 + 64 + 2 + 16 + 512 + 2048);
        public const int IpText = TextBytes;
        public const int IpTextBytes = 128;
        public const int IpHash = IpText + IpTextBytes;
        public const int Country = IpHash + IpPseudonymizer.HashLength;
        public const int DerivedId = Country + 2;
        public const int DerivedIdBytes = 2 + 32;
        public const int Material = DerivedId + DerivedIdBytes;
        public const int MaterialBytes = (3 * 64) + 1 + (3 * 128) + 1 + IpTextBytes + 1 + 20;
        public const int Bytes = Material + MaterialBytes;
    }
}
