namespace Tollbooth.Log;

/// <summary>What checking the frame at an offset of a segment found.</summary>
internal enum FrameCheck
{
    Valid,
    HeaderIncomplete,
    LengthZero,
    LengthAboveMax,
    LengthPastFileEnd,
    ChecksumMismatch,
}
