using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using StreamLoader.Provider.Input;

namespace StreamLoader.Provider.Http;

/// <summary>
/// Credentials written into an http(s) URL (<c>https://user:password@host/path</c>): taken out of the location as the
/// source is expanded, so that no message, progress line, summary or saved position carries them, and sent as HTTP
/// Basic authentication with each request for that URL (.NET's HttpClient ignores a URL's user-info; a redirect
/// elsewhere drops the header).
/// </summary>
public static partial class HttpCredentials
{
    private static readonly ConcurrentDictionary<string, string> s_basic = new(StringComparer.Ordinal);

    /// <summary>
    /// The location without its user-info, remembering the credentials for it; any other location as it is.
    /// </summary>
    public static string Strip(string location)
    {
        if (!InputIdentity.TryParseHttpUrl(location, out Uri? uri) || uri.UserInfo.Length == 0)
        {
            return location;
        }
        string bare = new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty }.Uri.AbsoluteUri;
        s_basic[bare] = Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo)));
        return bare;
    }

    /// <summary>Adds Basic authentication to a request for a URL whose credentials were stripped.</summary>
    internal static void Apply(HttpRequestMessage request)
    {
        if (request.RequestUri is { } uri && s_basic.TryGetValue(uri.AbsoluteUri, out string? basic))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }
    }

    /// <summary><paramref name="text"/> with the user-info of every http(s) URL in it shown as <c>***</c>: for anything printed or saved.</summary>
    public static string Mask(string text) => UserInfo().Replace(text, "$1***@");

    [GeneratedRegex(@"(https?://)[^/@\s""']+@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UserInfo();
}
