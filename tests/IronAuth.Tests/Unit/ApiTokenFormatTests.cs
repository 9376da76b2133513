using IronAuth.Core.Tokens;

namespace IronAuth.Tests.Unit;

public sealed class ApiTokenFormatTests
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static long Pack(ReadOnlySpan<char> chars)
    {
        long key = 0;
        foreach (var c in chars)
        {
            key = (key << 6) | (uint)Alphabet.IndexOf(c, StringComparison.Ordinal);
        }

        return key;
    }

    [Fact]
    public void New_tokens_have_the_documented_shape()
    {
        var token = ApiTokenFormat.New();
        Assert.Matches("^iron_[A-Za-z0-9_-]{49}$", token);
        Assert.True(ApiTokenFormat.IsWellFormed(token));
        Assert.Equal(token[..13], ApiTokenFormat.DisplayPrefix(token));
    }

    [Fact]
    public void Checksum_rejects_every_one_character_change()
    {
        for (var sample = 0; sample < 5; sample++)
        {
            var token = ApiTokenFormat.New();
            for (var i = ApiTokenFormat.Prefix.Length; i < token.Length; i++)
            {
                foreach (var c in Alphabet.Where(c => c != token[i]))
                {
                    var mutated = string.Concat(token.AsSpan(0, i), c.ToString(), token.AsSpan(i + 1));
                    Assert.False(ApiTokenFormat.IsWellFormed(mutated), $"{mutated} passed the checksum");
                }
            }
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("iron_")]
    [InlineData("IRON_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("iron_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("iron_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!aaa")]
    public void Wrong_shapes_are_malformed(string token) => Assert.False(ApiTokenFormat.IsWellFormed(token));

    [Fact]
    public void Truncated_and_extended_tokens_are_malformed()
    {
        var token = ApiTokenFormat.New();
        Assert.False(ApiTokenFormat.IsWellFormed(token[..^1]));
        Assert.False(ApiTokenFormat.IsWellFormed(token + "A"));
        Assert.False(ApiTokenFormat.IsWellFormed(" " + token[1..]));
    }

    [Fact]
    public void Two_million_tokens_have_distinct_display_prefix_and_checksum_pairs()
    {
        // Lookups go by the SHA-256 digest of the whole token, so even a prefix collision would not mix
        // tokens up; this shows the visible parts are also distinct in practice (80 bits together).
        const int count = 2_000_000;
        var seen = new HashSet<(long, long)>(count);
        for (var i = 0; i < count; i++)
        {
            var token = ApiTokenFormat.New();
            Assert.True(seen.Add((Pack(token.AsSpan(5, 8)), Pack(token.AsSpan(token.Length - 6)))), $"collision at token {i}");
        }
    }
}
