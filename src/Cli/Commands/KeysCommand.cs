using System.CommandLine;
using StreamLoader.Transport.ZeroMq;

namespace StreamLoader.Cli.Commands;

/// <summary><c>streamloader keys</c>: writes a CURVE key pair for a ZeroMQ loader or consumer, in ZeroMQ's certificate format.</summary>
internal static class KeysCommand
{
    private static readonly Option<string> Folder = new("--out", "-o") { Description = "Folder to write the two files in (created if missing).", DefaultValueFactory = _ => ".", HelpName = "folder" };
    private static readonly Option<string> Name = new("--name") { Description = "The files' name: NAME.key (the public key, to share) and NAME.key_secret (the key pair, readable by its owner only).", DefaultValueFactory = _ => "streamloader", HelpName = "name" };

    public static Command Create()
    {
        var command = new Command("keys", "Write a CURVE key pair for ZeroMQ (tcp://) in ZeroMQ's certificate format, as pyzmq's zmq.auth reads it: NAME.key holds the public key, NAME.key_secret the pair. " +
            "The loader takes its NAME.key_secret with --curve-server-key; each device takes the loader's NAME.key with --curve-server-key. To admit only known devices, write a pair per device, " +
            "copy each device's NAME.key into a folder the loader reads with --curve-keys, and give each device its own NAME.key_secret with --curve-key. Existing files are never overwritten.\n\n" +
            "Example:\n  streamloader keys --out keys --name loader\n  streamloader keys --out keys --name rank0\n  streamloader --role loader --out tcp://*:5555 --curve-server-key keys/loader.key_secret --curve-keys allowed/\n" +
            "  streamloader --role device --in tcp://host:5555 --curve-server-key keys/loader.key --curve-key keys/rank0.key_secret");
        command.Options.Add(Folder);
        command.Options.Add(Name);
        command.SetAction(result =>
        {
            string name = result.GetValue(Name)!;
            if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains('/', StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"error: --name '{name}': give a file name without a folder (the files are NAME.key and NAME.key_secret).");
                return ExitCodes.UsageError;
            }
            try
            {
                (string publicFile, string secretFile) = CurveCertificateFile.Write(result.GetValue(Folder)!, name);
                Console.WriteLine($"public key: {publicFile}  ({CurveCertificateFile.Read(publicFile).PublicKeyZ85})");
                Console.WriteLine($"key pair:   {secretFile}  (keep it private: readable by you only)");
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return ExitCodes.UsageError;
            }
        });
        return command;
    }
}
