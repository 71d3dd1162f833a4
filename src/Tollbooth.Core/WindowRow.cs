namespace Tollbooth.Core;

/// <summary>
/// The absolute numbers of one window row (I2: written as values, never as increments).
/// <c>Received = Clicks + DuplicateClicks + InvalidClicks + TooLate</c> holds at every commit.
/// </summary>
public sealed class WindowRow
{
    public WindowRow(WindowKey key)
        : this(key, new HyperLogLog())
    {
    }

    /// <summary>A row with its sketch already made: the aggregator's copies, which would otherwise make an empty one to drop.</summary>
    internal WindowRow(WindowKey key, HyperLogLog users)
    {
        Key = key;
        Users = users;
    }

    public WindowKey Key { get; }

    public long Received { get; set; }

    /// <summary>Valid clicks; <see cref="LateClicks"/> is a subset of them.</summary>
    public long Clicks { get; set; }

    public long SpendMicros { get; set; }

    public long DuplicateClicks { get; set; }

    public long InvalidBadToken { get; set; }

    public long InvalidBot { get; set; }

    public long InvalidRate { get; set; }

    public long InvalidUnsigned { get; set; }

    public long TooLate { get; set; }

    public long LateClicks { get; set; }

    /// <summary>
    /// The version of the rule set (<see cref="RuleSet.Version"/>) that decided the last click counted into
    /// this row; empty for a row counted before rule sets were versioned. Clicks are counted in log order, so
    /// after a rule change a window holding clicks of both records the newer.
    /// </summary>
    public string RuleVersion { get; set; } = "";

    /// <summary>Decided by the partition watermark at the last change published for this row.</summary>
    public WindowStatus Status { get; set; }

    /// <summary>How many changes of this row were published (0 while open); grows with each one.</summary>
    public long Revision { get; set; }

    /// <summary>True when the numbers changed after the row left <see cref="WindowStatus.Open"/> and that change is not published yet.</summary>
    public bool Pending { get; set; }

    /// <summary>
    /// Processing-time bookkeeping for the realtime view, never stored: the valid clicks and spend already
    /// reported as recent activity.
    /// </summary>
    public long ReportedClicks { get; set; }

    public long ReportedSpendMicros { get; set; }

    /// <summary>The aggregator's own bookkeeping: changed since the rows were last taken for a commit. Never cloned.</summary>
    internal bool Dirty { get; set; }

    /// <summary>A copy made when the row's last change was published, while the row has not changed since; never cloned.</summary>
    internal WindowRow? Snapshot { get; set; }

    /// <summary>Distinct user ids of valid clicks.</summary>
    public HyperLogLog Users { get; set; }

    public long InvalidClicks => InvalidBadToken + InvalidBot + InvalidRate + InvalidUnsigned;

    public long InvalidFor(InvalidReason reason) => reason switch
    {
        InvalidReason.BadToken => InvalidBadToken,
        InvalidReason.Bot => InvalidBot,
        InvalidReason.Rate => InvalidRate,
        InvalidReason.Unsigned => InvalidUnsigned,
        _ => 0,
    };

    public void AddInvalid(InvalidReason reason)
    {
        switch (reason)
        {
            case InvalidReason.BadToken: InvalidBadToken++; break;
            case InvalidReason.Bot: InvalidBot++; break;
            case InvalidReason.Rate: InvalidRate++; break;
            case InvalidReason.Unsigned: InvalidUnsigned++; break;
            default: throw new ArgumentOutOfRangeException(nameof(reason), reason, "An invalid click needs a reason.");
        }
    }

    /// <summary>
    /// Counts one click with its outcome: the one place a verdict becomes numbers, used by the processors
    /// and by reconciliation alike. <paramref name="erasedUserHash"/> stands in for the user id of an erased
    /// click (see <see cref="HyperLogLog.HashUserId"/>; 0 when not known).
    /// </summary>
    public void Count(Click click, ClickOutcome outcome, ulong? erasedUserHash = null)
    {
        Received++;
        RuleVersion = outcome.RuleVersion;
        switch (outcome.Verdict)
        {
            case Verdict.Duplicate:
                DuplicateClicks++;
                break;
            case Verdict.Invalid:
                AddInvalid(outcome.Reason);
                break;
            case Verdict.TooLate:
                TooLate++;
                break;
            default:
                Clicks++;
                long spend = unchecked(SpendMicros + click.CostMicros);
                SpendMicros = ((SpendMicros ^ spend) & (click.CostMicros ^ spend)) < 0 ? long.MaxValue : spend;
                if (erasedUserHash is ulong hash)
                {
                    if (hash != 0)
                    {
                        Users.AddHash(hash);
                    }
                }
                else
                {
                    Users.AddUser(click.UserId);
                }

                if (outcome.Late)
                {
                    LateClicks++;
                }

                break;
        }
    }

    /// <summary>A deep copy, so a commit can hand rows to the store while the processor goes on.</summary>
    public WindowRow Clone() => new(Key)
    {
        Received = Received,
        Clicks = Clicks,
        SpendMicros = SpendMicros,
        DuplicateClicks = DuplicateClicks,
        InvalidBadToken = InvalidBadToken,
        InvalidBot = InvalidBot,
        InvalidRate = InvalidRate,
        InvalidUnsigned = InvalidUnsigned,
        TooLate = TooLate,
        LateClicks = LateClicks,
        RuleVersion = RuleVersion,
        Status = Status,
        Revision = Revision,
        Pending = Pending,
        Users = Users.Clone(),
    };
}
