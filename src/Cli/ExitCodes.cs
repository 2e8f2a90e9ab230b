namespace StreamLoader.Cli;

/// <summary>Process exit codes.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;
    public const int InputError = 3;
    public const int DeviceError = 4;
    public const int Cancelled = 130;
}
