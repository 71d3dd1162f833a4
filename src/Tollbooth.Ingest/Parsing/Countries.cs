namespace Tollbooth.Ingest.Parsing;

/// <summary>ISO 3166-1 alpha-2: the officially assigned codes. Any other two letters normalise to <c>ZZ</c>.</summary>
public static class Countries
{
    public const string Unknown = "ZZ";

    private static readonly HashSet<string> s_assigned = new(
        ("AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
         "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
         "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
         "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
         "MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
         "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
         "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW").Split(' '),
        StringComparer.Ordinal);

    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> s_assignedByChars = s_assigned.GetAlternateLookup<ReadOnlySpan<char>>();

    public static int AssignedCount => s_assigned.Count;

    /// <summary>Upper-cases two ASCII letters and maps unassigned codes to ZZ; false for anything else.</summary>
    public static bool TryNormalize(string text, out string country)
    {
        country = "";
        if (text.Length != 2 || !char.IsAsciiLetter(text[0]) || !char.IsAsciiLetter(text[1]))
        {
            return false;
        }

        string upper = text.ToUpperInvariant();
        country = s_assigned.Contains(upper) ? upper : Unknown;
        return true;
    }

    /// <summary>
    /// <see cref="TryNormalize(string, out string)"/> over UTF-8 text, for the record parser: writes the two upper-case
    /// ASCII letters of the normalised code into <paramref name="country"/>, allocating nothing.
    /// </summary>
    public static bool TryNormalize(ReadOnlySpan<byte> utf8, Span<byte> country)
    {
        if (utf8.Length != 2 || !char.IsAsciiLetter((char)utf8[0]) || !char.IsAsciiLetter((char)utf8[1]))
        {
            return false;
        }

        char first = char.ToUpperInvariant((char)utf8[0]);
        char second = char.ToUpperInvariant((char)utf8[1]);
        bool assigned = s_assignedByChars.Contains([first, second]);
        country[0] = (byte)(assigned ? first : Unknown[0]);
        country[1] = (byte)(assigned ? second : Unknown[1]);
        return true;
    }
}
