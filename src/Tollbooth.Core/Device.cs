namespace Tollbooth.Core;

/// <summary>The device class of a click. <see cref="Unknown"/> means the client sent none.</summary>
public enum Device : byte
{
    Unknown = 0,
    Desktop = 1,
    Mobile = 2,
    Tablet = 3,
    Ctv = 4,
    Other = 5,
}

public static class DeviceNames
{
    public static string ToWire(Device device) => device switch
    {
        Device.Desktop => "desktop",
        Device.Mobile => "mobile",
        Device.Tablet => "tablet",
        Device.Ctv => "ctv",
        Device.Other => "other",
        _ => "",
    };

    public static bool TryParse(ReadOnlySpan<char> text, out Device device)
    {
        device = text switch
        {
            "desktop" => Device.Desktop,
            "mobile" => Device.Mobile,
            "tablet" => Device.Tablet,
            "ctv" => Device.Ctv,
            "other" => Device.Other,
            _ => Device.Unknown,
        };
        return device != Device.Unknown;
    }
}
