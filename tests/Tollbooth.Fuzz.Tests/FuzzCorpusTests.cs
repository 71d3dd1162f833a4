// Goal: every input the fuzzer saved (fuzz/corpus/TARGET/: the seeds, inputs that found new coverage, and
// crash-* and hang-* regression inputs) still meets its target's contract: the parser, validator and token
// check reject or accept it cleanly, consistently, and never verify a token the key did not sign.
// Method: the harness functions afl-fuzz drives (fuzz/Tollbooth.Fuzz) run in-process over every saved file;
// no AFL here. A missing or empty corpus fails, and so does a corpus that no longer reaches the outcomes
// that matter (accepted clicks, rejections, a verified token), since its replay would then prove little.
using Tollbooth.Core;
using Tollbooth.Fuzz;
using Tollbooth.Ingest.Parsing;
using Xunit.Abstractions;

namespace Tollbooth.Fuzz.Tests;

public sealed class FuzzCorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string> Targets => new(FuzzTargets.Names);

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_saved_fuzz_input_is_rejected_or_accepted_without_crashing(string target)
    {
        string[] files = CorpusFiles(target);
        var failures = new List<string>();
        FuzzResult total = default;
        foreach (string file in files)
        {
            try
            {
                total += FuzzTargets.Run(target, File.ReadAllBytes(file));
            }
            catch (Exception exception)
            {
                failures.Add($"{Path.GetFileName(file)}: {exception.GetType().Name}: {exception.Message}\n{exception.StackTrace}");
            }
        }

        output.WriteLine($"{target}: {files.Length} saved inputs; {total.Accepted} accepted, {total.Rejected} rejected items or tokens");
        Assert.True(failures.Count == 0, $"{failures.Count} of {files.Length} saved {target} inputs break the contract (replay one with: dotnet fuzz/Tollbooth.Fuzz/bin/Release/net10.0/Tollbooth.Fuzz.dll replay {target} FILE):\n{string.Join("\n", failures)}");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void The_saved_corpus_reaches_both_acceptance_and_rejection(string target)
    {
        FuzzResult total = default;
        foreach (string file in CorpusFiles(target))
        {
            try
            {
                total += FuzzTargets.Run(target, File.ReadAllBytes(file));
            }
            catch (Exception)
            {
                // Reported by the test above; here only the reach counts.
            }
        }

        Assert.True(total.Accepted > 0, $"No saved {target} input is accepted: the corpus no longer reaches the paths past validation.");
        Assert.True(total.Rejected > 0 || total.BodyRejected, $"No saved {target} input is rejected: the corpus no longer reaches the refusals.");
        Assert.True(target != "token" || total.Verified, "No saved token verifies: the corpus no longer reaches the signature check's success path.");
    }

    [Fact]
    public void A_token_signed_by_no_key_is_a_contract_breach_the_harness_catches()
    {
        // The harness must be able to fail: feed it a token that verifies and check that changing one byte of it
        // is refused, and that the token itself is found to be signed by the fixed key.
        string corpus = Path.Combine(CorpusRoot(), "token");
        byte[] issued = File.ReadAllBytes(Path.Combine(corpus, "seed-bytes.bin"));
        Assert.True(FuzzTargets.Run("token", issued).Verified, "The saved issued token no longer verifies.");
        byte[] tampered = (byte[])issued.Clone();
        tampered[^1] ^= 0x01;
        FuzzResult result = FuzzTargets.Run("token", tampered);
        Assert.False(result.Verified, "A token with its last signature byte changed verified.");
    }

    [Theory]
    [InlineData("application/json", "[{\"ad_id\":\"a\",\"advertiser_id\":\"b\"},{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"ad_\\ud800_unknown\":1}]")]
    [InlineData("application/x-ndjson", "{\"ad_id\":\"a\",\"advertiser_id\":\"b\"}\n{\"ad_id\":\"a\",\"advertiser_id\":\"b\",\"ad_\\ud800_unknown\":1}")]
    public void A_field_name_with_a_lone_surrogate_escape_rejects_its_item_instead_of_failing_the_request(string contentType, string body)
    {
        // Found by fuzz/run json and ndjson (fuzz/corpus/*/crash-*): the parser threw, so the request answered 500.
        var parser = new ClickParser(new IngestLimits(), new FixedClock(), new IpPseudonymizer(new byte[32]));
        ParseOutcome outcome = parser.Parse(System.Text.Encoding.UTF8.GetBytes(body), contentType, null);
        Assert.Null(outcome.BodyError);
        Assert.Equal(0, Assert.Single(outcome.Accepted).Index);
        Rejection rejection = Assert.Single(outcome.Rejections);
        Assert.Equal((1, "invalid_json"), (rejection.Index, rejection.Code));
        Assert.EndsWith(".", rejection.Error);
    }

    [Fact]
    public void An_unknown_target_is_refused_with_the_list_of_targets()
    {
        ArgumentException refused = Assert.Throws<ArgumentException>(() => FuzzTargets.Run("nope", []));
        Assert.Contains("json", refused.Message);
    }

    private sealed class FixedClock : IClock
    {
        public long UtcNowMs => 1_795_000_000_000;
    }

    private static string[] CorpusFiles(string target)
    {
        string directory = Path.Combine(CorpusRoot(), target);
        Assert.True(Directory.Exists(directory), $"The fuzz corpus {directory} is missing: run fuzz/run {target} to grow one, and commit it.");
        string[] files = Directory.GetFiles(directory).Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length > 0, $"The fuzz corpus {directory} is empty: run fuzz/run {target} to grow one, and commit it.");
        return files;
    }

    private static string CorpusRoot()
    {
        DirectoryInfo? root = new(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tollbooth.slnx")))
        {
            root = root.Parent;
        }

        Assert.True(root is not null, $"No Tollbooth.slnx above {AppContext.BaseDirectory}.");
        return Path.Combine(root!.FullName, "fuzz", "corpus");
    }
}
