namespace Tollbooth.Http;

/// <summary>English for sentences built from names, so a role or unit reads right in any of its values.</summary>
public static class Words
{
    /// <summary>
    /// The word after its indefinite article, by sound: "an advertiser", "an admin", "an hour", "a publisher", "a minute";
    /// capitalised to open a sentence.
    /// </summary>
    public static string WithArticle(string word, bool capitalized = false)
    {
        bool vowelSound = word.Length > 0 && ("aeiouAEIOU".Contains(word[0]) || word.StartsWith("hour", StringComparison.OrdinalIgnoreCase));
        string article = vowelSound ? "an" : "a";
        return $"{(capitalized ? char.ToUpperInvariant(article[0]) + article[1..] : article)} {word}";
    }
}
