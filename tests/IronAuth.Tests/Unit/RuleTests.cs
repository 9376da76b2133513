using IronAuth.Core.Configuration;
using IronAuth.Core.Passwords;
using IronAuth.Core.Sessions;
using IronAuth.Core.Users;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace IronAuth.Tests.Unit;

public sealed class PasswordPolicyTests
{
    private readonly PasswordPolicy policy = new(Options.Create(new IronAuthOptions()));

    [Theory]
    [InlineData("correct-horse-battery")]
    [InlineData("Ünïcødé passwörd ✓")]
    [InlineData("Xq7-vmL2#pZe")]
    [InlineData("change-me-now-please")]
    [InlineData("admin-Passw0rd-for-tests")]
    [InlineData("analytical-engine-1843")]
    public void Acceptable_passwords_pass(string password) => Assert.Null(policy.Check(password, "someone", "someone@example.com"));

    [Theory]
    [InlineData("password1234")]
    [InlineData("Password1234")]
    [InlineData("qwertyuiop123")]
    [InlineData("iloveyou1234")]
    [InlineData("123456789012")]
    [InlineData("aaaaaaaaaaaaaaaa")]
    [InlineData("abcdefghijklmnop")]
    [InlineData("passwordpassword")]
    [InlineData("sunshine2024")]
    [InlineData("p4ssw0rdp4ssw0rd")]
    public void Long_but_guessable_passwords_are_refused(string password)
    {
        Assert.False(PasswordPolicy.IsCommon(password) && password.Length < 12, "the case is about passwords the list alone lets through");
        Assert.Equal("weak_password", policy.Check(password, "someone")?.Code);
    }

    [Fact]
    public void The_account_s_own_names_count_as_guessable()
    {
        const string password = "grace-hopper-cobol";
        Assert.Null(policy.Check(password, "someone", "someone@example.com"));
        Assert.Contains("too easy to guess", policy.Check("gracehopper-1906", "gracehopper", "grace.hopper@navy.example")!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_listed_common_password_the_length_allows_is_refused()
    {
        using var stream = typeof(PasswordPolicy).Assembly.GetManifestResourceStream("IronAuth.Core.common-passwords.txt")!;
        using var reader = new StreamReader(stream);
        var longEnough = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (!line.StartsWith('#') && line.Length >= 12)
            {
                longEnough.Add(line);
            }
        }

        Assert.NotEmpty(longEnough);
        Assert.All(longEnough, password => Assert.NotNull(policy.Check(password, null)));
        Assert.All(longEnough, password => Assert.NotNull(policy.Check(password + "1", null)));
    }

    [Fact]
    public void The_strength_needed_is_configurable_and_zero_turns_the_estimator_off()
    {
        var off = new PasswordPolicy(Options.Create(new IronAuthOptions { Passwords = { MinStrength = 0 } }));
        var strictest = new PasswordPolicy(Options.Create(new IronAuthOptions { Passwords = { MinStrength = 4 } }));
        Assert.Null(off.Check("password1234", null));
        Assert.NotNull(strictest.Check("reset-to-this-one", null));
        Assert.Null(policy.Check("reset-to-this-one", null));
    }

    [Theory]
    [InlineData("", "password must not be empty.")]
    [InlineData("short-pw", "at least 12 characters")]
    [InlineData("11character", "at least 12 characters")]
    public void Short_passwords_are_weak(string password, string reason)
    {
        var failure = policy.Check(password, null);
        Assert.Equal("weak_password", failure?.Code);
        Assert.Contains(reason, failure!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_72_utf8_bytes_is_refused_not_truncated()
    {
        // Repeats are weak to the estimator, so this looks at length alone.
        var lengthOnly = new PasswordPolicy(Options.Create(new IronAuthOptions { Passwords = { MinStrength = 0 } }));
        Assert.Null(lengthOnly.Check(new string('a', 72), null));
        Assert.Equal("weak_password", lengthOnly.Check(new string('a', 73), null)?.Code);
        // 36 two-byte characters are 72 bytes; 37 are 74, though only 37 characters long.
        Assert.Null(lengthOnly.Check(new string('é', 36), null));
        Assert.Contains("72 bytes", lengthOnly.Check(new string('é', 37), null)!.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("qwerty123456")]
    [InlineData("QWERTY123456")]
    [InlineData("1qaz2wsx3edc")]
    public void Common_passwords_are_refused_in_any_case(string password)
    {
        Assert.True(PasswordPolicy.IsCommon(password));
        Assert.Contains("too common", policy.Check(password, null)!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_username_is_not_a_password() =>
        Assert.Contains("username", policy.Check("Long-Username-1", "long-username-1")!.Detail, StringComparison.Ordinal);

    [Fact]
    public void The_minimum_length_is_configurable() =>
        Assert.Null(new PasswordPolicy(Options.Create(new IronAuthOptions { Passwords = { MinLength = 8 } })).Check("Zq8#vmL2", null));
}

public sealed class LockoutTests
{
    private static readonly LoginOptions Options = new() { MaxFailures = 3, LockoutSeconds = 60, MaxLockoutSeconds = 300 };
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    private static User NewUser() => new()
    {
        Id = "0190a5f2c1d47c3aa0b1c2d3e4f5a6b7", Username = "u", Role = Role.User, PasswordHash = "", CreatedAt = Now, UpdatedAt = Now,
    };

    [Theory]
    [InlineData(1, 60)]
    [InlineData(2, 120)]
    [InlineData(3, 240)]
    [InlineData(4, 300)]
    [InlineData(40, 300)]
    public void Lock_length_doubles_up_to_the_maximum(int lockCount, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), Lockout.Duration(lockCount, Options));

    [Fact]
    public void The_nth_consecutive_failure_locks_and_resets_the_count()
    {
        var user = NewUser();
        user = Lockout.RecordFailure(user, Options, Now);
        user = Lockout.RecordFailure(user, Options, Now);
        Assert.False(Lockout.IsLocked(user, Now));
        Assert.Equal(2, user.FailedLogins);

        user = Lockout.RecordFailure(user, Options, Now);

        Assert.True(Lockout.IsLocked(user, Now));
        Assert.False(Lockout.IsLocked(user, Now.AddSeconds(60)));
        Assert.Equal((0, 1), (user.FailedLogins, user.LockoutCount));
    }

    [Fact]
    public void A_reservation_counts_before_the_check_and_a_locked_account_refuses_one()
    {
        var user = NewUser() with { FailedLogins = 2 };

        var reserved = Lockout.Reserve(user, Options, Now);

        // The third reservation is the lock itself: no later attempt gets as far as a hash.
        Assert.True(Lockout.IsLocked(reserved.Value!, Now));
        var refused = Lockout.Reserve(reserved.Value!, Options, Now.AddSeconds(10));
        Assert.Equal("account_locked", refused.Failure?.Code);
        Assert.Equal(TimeSpan.FromSeconds(50), refused.Failure!.RetryAfter);
        Assert.True(Lockout.Reserve(reserved.Value!, Options, Now.AddSeconds(60)).Succeeded);
    }

    [Fact]
    public void Success_clears_failures_and_the_lock_history()
    {
        var user = NewUser() with { FailedLogins = 2, LockoutCount = 3, LockedUntil = Now.AddMinutes(-1) };
        var cleared = Lockout.RecordSuccess(user, Now);
        Assert.Equal((0, 0, (DateTimeOffset?)null), (cleared.FailedLogins, cleared.LockoutCount, cleared.LockedUntil));
    }
}

public sealed class PermissionTests
{
    public static TheoryData<Role, string, Reach> Matrix => new()
    {
        { Role.Admin, Permissions.UsersRead, Reach.All },
        { Role.Admin, Permissions.UsersWrite, Reach.All },
        { Role.Admin, Permissions.TokensRead, Reach.All },
        { Role.Admin, Permissions.TokensWrite, Reach.All },
        { Role.Admin, Permissions.TokensVerify, Reach.All },
        { Role.Admin, Permissions.AuditRead, Reach.All },
        { Role.User, Permissions.UsersRead, Reach.Own },
        { Role.User, Permissions.UsersWrite, Reach.Own },
        { Role.User, Permissions.TokensRead, Reach.Own },
        { Role.User, Permissions.TokensWrite, Reach.Own },
        { Role.User, Permissions.TokensVerify, Reach.None },
        { Role.User, Permissions.AuditRead, Reach.Own },
        { Role.Viewer, Permissions.UsersRead, Reach.All },
        { Role.Viewer, Permissions.UsersWrite, Reach.Own },
        { Role.Viewer, Permissions.TokensRead, Reach.All },
        { Role.Viewer, Permissions.TokensWrite, Reach.None },
        { Role.Viewer, Permissions.TokensVerify, Reach.None },
        { Role.Viewer, Permissions.AuditRead, Reach.All },
        // Agent budgets (issue 18).
        { Role.Admin, Permissions.BudgetsRead, Reach.All },
        { Role.Admin, Permissions.BudgetsWrite, Reach.All },
        { Role.User, Permissions.BudgetsRead, Reach.Own },
        { Role.User, Permissions.BudgetsWrite, Reach.Own },
        { Role.Viewer, Permissions.BudgetsRead, Reach.All },
        { Role.Viewer, Permissions.BudgetsWrite, Reach.None },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public void The_matrix_is_design_mds(Role role, string permission, Reach reach) =>
        Assert.Equal(reach, Permissions.ReachOf(role, permission));

    [Fact]
    public void Only_viewers_cannot_edit_their_profile() =>
        Assert.Equal([true, true, false], new[] { Role.Admin, Role.User, Role.Viewer }.Select(Permissions.CanEditProfile));

    [Fact]
    public void A_caller_needs_both_the_scope_and_the_reach()
    {
        var now = DateTimeOffset.UnixEpoch;
        var user = new User { Id = "0190a5f2c1d47c3aa0b1c2d3e4f5a6b7", Username = "u", Role = Role.User, PasswordHash = "", CreatedAt = now, UpdatedAt = now };
        var other = "0190a5f2c1d47c3aa0b1c2d3e4f5a6b8";
        var session = new Caller(user, AuthMethod.Session, Permissions.Of(Role.User), "s", null);
        var narrowToken = new Caller(user, AuthMethod.ApiToken, new ScopeSet([Permissions.UsersRead]), null, "t");

        Assert.Null(session.Require(Permissions.TokensWrite, user.Id));
        Assert.Equal("forbidden", session.Require(Permissions.TokensWrite, other)?.Code);
        Assert.Equal("forbidden", session.Require(Permissions.UsersRead)?.Code);
        Assert.Null(narrowToken.Require(Permissions.UsersRead, user.Id));
        Assert.Contains("lacks", narrowToken.Require(Permissions.TokensWrite, user.Id)!.Detail, StringComparison.Ordinal);
    }
}

public sealed class LoginThrottleTests
{
    [Fact]
    public void Each_address_gets_its_quota_per_minute_window()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        var throttle = new LoginThrottle(Options.Create(new IronAuthOptions { Login = { PerIpPerMinute = 2 } }), time);

        Assert.Null(throttle.TryAcquire("10.0.0.1"));
        Assert.Null(throttle.TryAcquire("10.0.0.1"));
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(TimeSpan.FromSeconds(40), throttle.TryAcquire("10.0.0.1"));
        Assert.Null(throttle.TryAcquire("10.0.0.2"));

        time.Advance(TimeSpan.FromSeconds(40));
        Assert.Null(throttle.TryAcquire("10.0.0.1"));
    }
}

public sealed class OptionsValidationTests
{
    private static string[] Errors(Action<IronAuthOptions> change)
    {
        var options = new IronAuthOptions();
        change(options);
        return new IronAuthOptionsValidator().Validate(null, options).Failures?.ToArray() ?? [];
    }

    [Fact]
    public void Defaults_are_valid() => Assert.Empty(Errors(_ => { }));

    [Theory]
    [InlineData("IronAuth:Passwords:BcryptWorkFactor")]
    [InlineData("IronAuth:Passwords:MinLength")]
    [InlineData("IronAuth:Passwords:MinStrength")]
    [InlineData("IronAuth:Jwt:AccessTokenLifetime")]
    [InlineData("IronAuth:Jwt:SigningKey")]
    [InlineData("IronAuth:Jwt:PreviousSigningKeys")]
    [InlineData("IronAuth:Jwt:RotateEvery")]
    [InlineData("IronAuth:Jwt:KeyRefreshInterval")]
    [InlineData("IronAuth:Login:MaxFailures")]
    [InlineData("IronAuth:Tokens:MaxLifetimeDays")]
    [InlineData("IronAuth:RateLimits:RequestsPerSecond")]
    [InlineData("IronAuth:Quotas:DailyRequests")]
    [InlineData("IronAuth:RateLimits:Burst")]
    [InlineData("IronAuth:Quotas:DailyTokens")]
    [InlineData("IronAuth:Tokens:MaxActivePerUser")]
    [InlineData("IronAuth:Maintenance:Schedule")]
    [InlineData("IronAuth:Bootstrap:AdminUsername")]
    public void Each_bad_value_is_named(string key)
    {
        var errors = Errors(o =>
        {
            switch (key)
            {
                case "IronAuth:Passwords:BcryptWorkFactor": o.Passwords.BcryptWorkFactor = 3; break;
                case "IronAuth:Passwords:MinLength": o.Passwords.MinLength = 100; break;
                case "IronAuth:Passwords:MinStrength": o.Passwords.MinStrength = 5; break;
                case "IronAuth:Jwt:AccessTokenLifetime": o.Jwt.AccessTokenLifetime = TimeSpan.FromSeconds(5); break;
                case "IronAuth:Jwt:SigningKey": o.Jwt.SigningKey = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"; break;
                case "IronAuth:Jwt:PreviousSigningKeys": o.Jwt.PreviousSigningKeys = ["not a key"]; break;
                case "IronAuth:Jwt:RotateEvery": o.Jwt.RotateEvery = TimeSpan.FromMinutes(5); break;
                case "IronAuth:Jwt:KeyRefreshInterval": o.Jwt.KeyRefreshInterval = TimeSpan.Zero; break;
                case "IronAuth:Login:MaxFailures": o.Login.MaxFailures = 0; break;
                case "IronAuth:Tokens:MaxLifetimeDays": o.Tokens.DefaultLifetimeDays = 60; break;
                case "IronAuth:RateLimits:RequestsPerSecond": o.RateLimits.RequestsPerSecond = 0; break;
                case "IronAuth:Quotas:DailyRequests": o.Quotas.DailyRequests = -1; break;
                case "IronAuth:RateLimits:Burst": (o.RateLimits.RequestsPerSecond, o.RateLimits.Burst) = (1e-300, 2_000_000); break;
                case "IronAuth:Quotas:DailyTokens": o.Quotas.DailyTokens = long.MaxValue; break;
                case "IronAuth:Tokens:MaxActivePerUser": o.Tokens.MaxActivePerUser = 0; break;
                case "IronAuth:Maintenance:Schedule": o.Maintenance.Schedule = "every five minutes"; break;
                case "IronAuth:Bootstrap:AdminUsername": o.Bootstrap.AdminPassword = "only-the-password"; break;
            }
        });

        Assert.Contains(errors, e => e.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public void An_es256_algorithm_needs_an_ec_key()
    {
        var rsa = IronAuth.Core.Signing.SigningKeys.Generate(SigningAlgorithm.RS256);
        Assert.NotEmpty(Errors(o => (o.Jwt.Algorithm, o.Jwt.SigningKey) = (SigningAlgorithm.ES256, rsa)));
        Assert.Empty(Errors(o => o.Jwt.SigningKey = rsa));
    }

    [Fact]
    public void Previous_keys_and_scheduled_rotation_fit_only_their_own_kind_of_key()
    {
        var rsa = IronAuth.Core.Signing.SigningKeys.Generate(SigningAlgorithm.RS256);
        var ec = IronAuth.Core.Signing.SigningKeys.Generate(SigningAlgorithm.ES256);

        // A previous key may be of the other algorithm: the algorithm is read from each PEM.
        Assert.Empty(Errors(o => (o.Jwt.SigningKey, o.Jwt.PreviousSigningKeys) = (rsa, [ec, rsa])));
        Assert.Contains(Errors(o => o.Jwt.PreviousSigningKeys = [ec]), e => e.Contains("only used with IronAuth:Jwt:SigningKey", StringComparison.Ordinal));
        Assert.Empty(Errors(o => o.Jwt.RotateEvery = TimeSpan.FromDays(30)));
        Assert.Contains(Errors(o => (o.Jwt.SigningKey, o.Jwt.RotateEvery) = (rsa, TimeSpan.FromDays(30))), e => e.Contains("Key Vault", StringComparison.Ordinal));
    }
}

public sealed class RefreshTokenFormatTests
{
    [Fact]
    public void Refresh_tokens_carry_their_session_and_parse_back()
    {
        var session = "0190a5f2c1d47c3aa0b1c2d3e4f5a6b7";
        var token = RefreshTokens.New(session);
        Assert.True(RefreshTokens.TryParse(token, out var parsed));
        Assert.Equal(session, parsed);
        Assert.NotEqual(token, RefreshTokens.New(session));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0190a5f2c1d47c3aa0b1c2d3e4f5a6b7")]
    [InlineData("0190A5F2C1D47C3AA0B1C2D3E4F5A6B7.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("0190a5f2c1d47c3aa0b1c2d3e4f5a6b7-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Malformed_refresh_tokens_do_not_parse(string token) => Assert.False(RefreshTokens.TryParse(token, out _));
}

public sealed class FederationOptionsTests
{
    private static string[] Failures(string provider) =>
        new IronAuth.Core.Federation.FederationOptionsValidator().Validate(null, new IronAuth.Core.Federation.FederationOptions
        {
            Providers = { [provider] = new() { Authority = "https://login.example.com", ClientId = "ironauth" } },
        }).Failures?.ToArray() ?? [];

    [Theory]
    [InlineData("corp")]
    [InlineData("google")]
    [InlineData("Entra_ID-2")]
    public void Provider_names_that_can_start_a_username_are_accepted(string provider) => Assert.Empty(Failures(provider));

    [Theory]
    [InlineData("_corp")]
    [InlineData("-corp")]
    [InlineData("corp.example")]
    [InlineData("")]
    public void Provider_names_whose_accounts_could_not_be_created_are_refused(string provider) => Assert.Single(Failures(provider));

    [Fact]
    public void A_provider_name_leaves_room_for_the_usernames_suffix()
    {
        var longest = new string('p', IronAuth.Core.Federation.FederationOptionsValidator.MaxProviderName);
        Assert.Empty(Failures(longest));
        Assert.Null(UsernameRules.CheckUsername(longest + "-0123456789"));
        Assert.Single(Failures(longest + "p"));
    }
}
