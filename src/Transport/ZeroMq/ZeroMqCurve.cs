using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NaCl;
using NetMQ;

namespace StreamLoader.Transport.ZeroMq;

/// <summary>
/// CURVE on a ZeroMQ transport (docs/WIRE.md, "Authentication and encryption"): the loader's key pair encrypts every
/// connection and proves the loader to its consumers; with <see cref="AuthorizedConsumers"/>, a consumer must also
/// prove in its <c>HELLO</c> that it holds one of those keys, or it is refused and counted.
/// </summary>
/// <remarks>
/// NetMQ's CURVE is ZeroMQ's "Stonehouse" pattern: it authenticates the server and encrypts, but has no ZAP handler to
/// check a client's key. A consumer therefore proves its key inside the encrypted connection: a box from its secret
/// key to the loader's public key (<see cref="Prove"/>), which only the holder of that secret key can make and only
/// the loader can open.
/// </remarks>
/// <param name="Server">
/// Loader: its own certificate, with the secret key. Consumer: the loader's public key (a secret one is used for its
/// public half only).
/// </param>
/// <param name="Client">Consumer: its own key pair, needed when the loader takes only authorized consumers; null: a fresh one.</param>
/// <param name="AuthorizedConsumers">Loader: the public keys allowed to join; null: any consumer that completes the CURVE handshake.</param>
public sealed record ZeroMqCurve(NetMQCertificate Server, NetMQCertificate? Client = null, IReadOnlySet<string>? AuthorizedConsumers = null)
{
    private static readonly byte[] s_proofText = Encoding.ASCII.GetBytes("StreamLoader consumer key, protocol 2");

    /// <summary>The proof a consumer sends in its <c>HELLO</c>: a fresh nonce and a box of a fixed text from its key to the loader's.</summary>
    public static byte[] Prove(NetMQCertificate client, byte[] serverPublicKey)
    {
        if (!client.HasSecretKey)
        {
            throw new ArgumentException("a consumer's proof needs its secret key", nameof(client));
        }
        byte[] proof = new byte[Curve25519XSalsa20Poly1305.NonceLength + Curve25519XSalsa20Poly1305.TagLength + s_proofText.Length];
        RandomNumberGenerator.Fill(proof.AsSpan(0, Curve25519XSalsa20Poly1305.NonceLength));
        using var box = new Curve25519XSalsa20Poly1305(client.SecretKey!, serverPublicKey);
        box.Encrypt(proof.AsSpan(Curve25519XSalsa20Poly1305.NonceLength), s_proofText, proof.AsSpan(0, Curve25519XSalsa20Poly1305.NonceLength));
        return proof;
    }

    /// <summary>
    /// Null when <paramref name="publicKeyZ85"/> is an authorized consumer's key and <paramref name="proof"/> was made with
    /// its secret key for this loader; otherwise why the consumer is refused (never echoing what it sent).
    /// </summary>
    internal string? Check(string? publicKeyZ85, byte[]? proof)
    {
        if (AuthorizedConsumers is null)
        {
            return null;
        }
        if (publicKeyZ85 is null || proof is null)
        {
            return "this loader takes only consumers with an authorized key (--curve-keys): the HELLO carried no key and proof (a consumer gives its key pair with --curve-key)";
        }
        if (!CurveCertificateFile.IsZ85Key(publicKeyZ85) || !AuthorizedConsumers.Contains(publicKeyZ85))
        {
            return "the consumer's key is not among this loader's authorized keys (--curve-keys)";
        }
        int textLength = proof.Length - Curve25519XSalsa20Poly1305.NonceLength - Curve25519XSalsa20Poly1305.TagLength;
        if (textLength != s_proofText.Length)
        {
            return "the consumer's key proof is malformed";
        }
        NetMQCertificate key = NetMQCertificate.FromPublicKey(publicKeyZ85);
        byte[] text = new byte[textLength];
        using var box = new Curve25519XSalsa20Poly1305(Server.SecretKey!, key.PublicKey);
        bool opened = box.TryDecrypt(text, proof.AsSpan(Curve25519XSalsa20Poly1305.NonceLength), proof.AsSpan(0, Curve25519XSalsa20Poly1305.NonceLength));
        return opened && text.AsSpan().SequenceEqual(s_proofText) ? null : "the consumer's key proof does not verify: it was not made with the secret key of the key it names";
    }

    /// <summary>Sets the loader's socket to be a CURVE server with its key pair.</summary>
    internal void ApplyToServer(NetMQSocket socket)
    {
        if (!Server.HasSecretKey)
        {
            throw new ArgumentException("the loader's CURVE certificate has no secret key: give it the .key_secret file that `streamloader keys` wrote.");
        }
        socket.Options.CurveServer = true;
        socket.Options.CurveCertificate = Server;
    }

    /// <summary>Sets a consumer's socket to speak CURVE to the loader with this public key, as <see cref="Client"/> (or a fresh pair).</summary>
    internal void ApplyToClient(NetMQSocket socket)
    {
        socket.Options.CurveServerKey = Server.PublicKey;
        socket.Options.CurveCertificate = Client ?? new NetMQCertificate();
    }
}

/// <summary>
/// Key files in ZeroMQ's certificate format (czmq's <c>zcert</c>, as pyzmq's <c>zmq.auth</c> reads and writes them):
/// <c>NAME.key</c> holds the public key, <c>NAME.key_secret</c> both, each as a 40-character Z85 string.
/// </summary>
public static class CurveCertificateFile
{
    /// <summary>Writes a fresh key pair as <c>NAME.key</c> and <c>NAME.key_secret</c> (readable by its owner only) in <paramref name="folder"/>; returns both paths.</summary>
    public static (string PublicFile, string SecretFile) Write(string folder, string name)
    {
        Directory.CreateDirectory(folder);
        var pair = new NetMQCertificate();
        string publicFile = Path.Combine(folder, name + ".key");
        string secretFile = Path.Combine(folder, name + ".key_secret");
        foreach (string existing in new[] { publicFile, secretFile })
        {
            if (File.Exists(existing))
            {
                throw new IOException($"{existing} exists: keys are never overwritten; remove it or choose another --name.");
            }
        }
        string stamp = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
        File.WriteAllText(publicFile, Text(stamp, "Public", pair.PublicKeyZ85, secret: null));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var writer = new StreamWriter(secretFile, Encoding.ASCII, options))
        {
            writer.Write(Text(stamp, "Secret", pair.PublicKeyZ85, pair.SecretKeyZ85));
        }
        return (publicFile, secretFile);
    }

    /// <summary>Reads a certificate file: its public key, and its secret key when it has one.</summary>
    /// <exception cref="FormatException">The file is not a certificate: the message names the file and line.</exception>
    public static NetMQCertificate Read(string path)
    {
        string? publicKey = null;
        string? secretKey = null;
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Trim();
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] == '#' || equals < 0)
            {
                continue;
            }
            string key = line[..equals].Trim();
            string value = line[(equals + 1)..].Trim().Trim('"');
            if (key is not ("public-key" or "secret-key"))
            {
                continue;
            }
            if (!IsZ85Key(value))
            {
                throw new FormatException($"{path}, line {number}: {key} must be 40 Z85 characters (0-9 a-z A-Z .-:+=^!/*?&<>()[]{{}}@%$#), found {value.Length} characters that are not.");
            }
            if (key == "public-key")
            {
                publicKey = value;
            }
            else
            {
                secretKey = value;
            }
        }
        return secretKey is not null ? NetMQCertificate.CreateFromSecretKey(secretKey)
            : publicKey is not null ? NetMQCertificate.FromPublicKey(publicKey)
            : throw new FormatException($"{path}: no public-key or secret-key line; expected a ZeroMQ certificate as `streamloader keys` writes it.");
    }

    /// <summary>True for a 32-byte key in Z85: 40 characters of Z85's alphabet.</summary>
    public static bool IsZ85Key(string text) => text.Length == 40 && text.All(c => Z85Alphabet.Contains(c, StringComparison.Ordinal));

    private const string Z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

    /// <summary>The public keys (Z85) of every <c>*.key</c> certificate in <paramref name="folder"/>: the consumers a loader takes.</summary>
    public static IReadOnlySet<string> ReadFolder(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"--curve-keys {folder}: no such folder; it should hold the consumers' public keys (NAME.key files from `streamloader keys`).");
        }
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(folder, "*.key").Order(StringComparer.Ordinal))
        {
            keys.Add(Read(file).PublicKeyZ85);
        }
        if (keys.Count == 0)
        {
            throw new FileNotFoundException($"--curve-keys {folder}: no NAME.key files there, so no consumer could join; copy each consumer's public key there (`streamloader keys` writes them).");
        }
        return keys;
    }

    private static string Text(string stamp, string kind, string publicKey, string? secret)
    {
        var text = new StringBuilder();
        text.Append("#   ****  Generated on ").Append(stamp).Append(" by StreamLoader  ****\n");
        text.Append("#   ZeroMQ CURVE ").Append(kind).Append(" Certificate\n");
        text.Append(secret is null
            ? "#   Exchange securely, or use a secure mechanism to verify the contents\n#   of this file after exchange.\n"
            : "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n");
        text.Append("\nmetadata\ncurve\n    public-key = \"").Append(publicKey).Append("\"\n");
        if (secret is not null)
        {
            text.Append("    secret-key = \"").Append(secret).Append("\"\n");
        }
        return text.ToString();
    }
}
