using DuckDB.NET.Data;

namespace Tollbooth.Store;

/// <summary>A rule set that was in force: its version, its rules in canonical text, and when it was first in force.</summary>
public sealed record RuleSetRecord(string Version, string Rules, long FirstInForceMs);

/// <summary>
/// The rule sets that were in force, by version: a window row names only its version (a hash), so the
/// rules behind each version are kept here for as long as the store lives; <see cref="Clear"/> keeps them.
/// </summary>
public sealed partial class DuckDbStore
{
    /// <summary>Records a rule set as in force from <paramref name="nowMs"/>, unless its version is known already.</summary>
    public void RecordRuleSet(string version, string rules, long nowMs)
    {
        WriteInTransaction((version, rules, nowMs), static (store, set) =>
        {
            using DuckDBCommand command = DuckDbSql.Command(
                store._writer, "INSERT OR IGNORE INTO rule_sets (rule_version, rules, first_in_force_ms) VALUES ($version, $rules, $now)");
            DuckDbSql.Add(command, "version", set.version);
            DuckDbSql.Add(command, "rules", set.rules);
            DuckDbSql.Add(command, "now", set.nowMs);
            command.ExecuteNonQuery();
        });
    }

    /// <summary>Every rule set recorded, oldest first.</summary>
    public IReadOnlyList<RuleSetRecord> ReadRuleSets()
    {
        using ReaderLease lease = Read();
        using DuckDBCommand command = lease.Connection.CreateCommand();
        command.CommandText = "SELECT rule_version, rules, first_in_force_ms FROM rule_sets ORDER BY first_in_force_ms, rule_version";
        using DuckDBDataReader reader = command.ExecuteReader();
        var sets = new List<RuleSetRecord>();
        while (reader.Read())
        {
            sets.Add(new RuleSetRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        }

        return sets;
    }
}
