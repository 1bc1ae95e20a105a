using System.Text.RegularExpressions;
using Compressor.Sdk;

namespace Compressor.Host.Tests;

/// <summary>docs/errors.md stays in step with the code: every exit code has a row, and every error kind maps to a
/// documented, specific exit code.</summary>
public sealed class ErrorCatalogueTests
{
    private static string Catalogue()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "docs", "errors.md");
            if (File.Exists(path)) return File.ReadAllText(path);
        }
        throw new FileNotFoundException("docs/errors.md not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<ExitCode> FailureCodes() => [.. Enum.GetValues<ExitCode>().Where(c => c != ExitCode.Success)];

    [Theory]
    [MemberData(nameof(FailureCodes))]
    public void EveryExitCodeHasARowInTheCatalogue(ExitCode code) =>
        Assert.Matches(new Regex($@"^\|[^|\n]+\|\s*{(int)code}\s*\|", RegexOptions.Multiline), Catalogue());

    [Fact]
    public void EveryErrorKindHasItsOwnExitCode()
    {
        var codes = Enum.GetValues<ErrorKind>().Select(ExitCodes.For).ToList();
        Assert.DoesNotContain(ExitCode.InternalError, codes);
        Assert.Equal(codes.Count, codes.Distinct().Count());
    }
}
