using System.Collections.Immutable;
using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Users;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Users in one partition of the Users table, beside a username index entry per user and the roster of
/// active admins. Keeping them together makes the two rules that need atomicity single entity-group
/// transactions: a create inserts the name entry and the user together (the name entry's 409 decides a
/// race for a username), and a write that changes who is an active admin updates the user and the roster
/// together, each under its ETag (so two concurrent demotions of the last two admins cannot both commit).
/// Usernames are fixed at creation (nothing in IronAuth renames a user), so updates leave the index alone.
/// Emails have an index entry too (<c>email:</c> + the hex SHA-256 of the normalized address), inserted with the
/// user and moved (delete the old, insert the new) in the same transaction as an update that changes the email,
/// so the 409 of that insert decides a race for an address.
/// </summary>
public sealed class TableUserStore(TableStorage storage) : IUserStore
{
    private const string Partition = "users";
    private const string UserPrefix = "user:";
    private const string UserPrefixEnd = "user;"; // ':' + 1: the exclusive upper bound of the user rows.
    private const string NamePrefix = "name:";
    private const string EmailPrefix = "email:";
    private const string RosterKey = "admins";

    private TableClient Table => storage.Users;

    public async Task<bool> CreateAsync(User user, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(user.Id) || !TableEntities.IsKeySafe(user.NormalizedUsername))
        {
            throw new ArgumentException("The user's id and username must be usable as table keys.", nameof(user));
        }

        var emailKey = user.NormalizedEmail is { } email ? EmailAddresses.Key(email) : null;
        for (var attempt = 0; ; attempt++)
        {
            var name = new TableEntity(Partition, NamePrefix + user.NormalizedUsername) { ["UserId"] = user.Id };
            List<TableTransactionAction> actions = [new(TableTransactionActionType.Add, name)];
            if (emailKey is not null)
            {
                // The email entry's 409 decides a race for an address, as the name entry's does for a username.
                actions.Add(new(TableTransactionActionType.Add, new TableEntity(Partition, EmailPrefix + emailKey) { ["UserId"] = user.Id }));
            }

            actions.Add(new(TableTransactionActionType.Add, ToEntity(user, emailKey)));
            var rosterIndex = actions.Count;
            if (IsActiveAdmin(user))
            {
                var roster = await ReadRosterAsync(cancellationToken);
                actions.Add(roster.Write(roster.Ids.Add(user.Id)));
            }

            try
            {
                await Table.SubmitEntityGroupAsync(actions, cancellationToken);
                return true;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex < rosterIndex && e.Status == TableEntities.Conflict)
            {
                return false;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == rosterIndex && IsStale(e) && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Create admin", attempt, cancellationToken);
            }
        }
    }

    public async Task<User?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(id) && await Table.FindAsync(Partition, UserPrefix + id, cancellationToken) is { } entity
            ? FromEntity(entity)
            : null;

    public async Task<User?> FindByUsernameAsync(string normalizedUsername, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(normalizedUsername)
        && await Table.FindAsync(Partition, NamePrefix + normalizedUsername, cancellationToken) is { } name
            ? await FindByIdAsync(name.RequiredString("UserId"), cancellationToken)
            : null;

    public async Task<User?> FindByEmailAsync(string normalizedEmail, CancellationToken cancellationToken) =>
        await Table.FindAsync(Partition, EmailPrefix + EmailAddresses.Key(normalizedEmail), cancellationToken) is { } entry
        && await FindByIdAsync(entry.RequiredString("UserId"), cancellationToken) is { } user
        && user.NormalizedEmail == normalizedEmail
            ? user
            : null;

    public async Task<bool> AnyAsync(CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey gt {UserPrefix} and RowKey lt {UserPrefixEnd}");
        await foreach (var page in Table.QueryAsync<TableEntity>(filter, 1, ["RowKey"], cancellationToken).AsPages())
        {
            if (page.Values.Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    public async Task<Page<User>> ListAsync(UserQuery query, CancellationToken cancellationToken)
    {
        // Row keys are "user:" + a UUIDv7, so key order is creation order and the position (the last id
        // returned) continues exactly where the previous page stopped, whatever the filters dropped.
        var after = UserPrefix + query.Position; // A filter value, escaped by CreateQueryFilter: any string is safe here.
        var filters = new List<string>
        {
            TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey gt {after} and RowKey lt {UserPrefixEnd}"),
        };
        if (query.Role is { } role)
        {
            filters.Add(TableClient.CreateQueryFilter($"Role eq {role.ToWire()}"));
        }

        if (query.Status is { } status)
        {
            filters.Add(TableClient.CreateQueryFilter($"Status eq {status.ToWire()}"));
        }

        var users = new List<User>(query.Limit + 1);
        await foreach (var entity in Table.QueryAsync<TableEntity>(string.Join(" and ", filters), Math.Min(query.Limit + 1, 1000), cancellationToken: cancellationToken))
        {
            users.Add(FromEntity(entity));
            if (users.Count > query.Limit)
            {
                break;
            }
        }

        var more = users.Count > query.Limit;
        if (more)
        {
            users.RemoveAt(users.Count - 1);
        }

        return new Page<User>(users, more ? users[^1].Id : null);
    }

    public async Task<WriteOutcome> UpdateAsync(User user, bool keepAnActiveAdmin, CancellationToken cancellationToken)
    {
        if (!TryParseVersion(user.Version, out var read) || !TableEntities.IsKeySafe(user.Id))
        {
            return WriteOutcome.Conflict;
        }

        // The email entry moves only when the email changes: an account from before emails were unique that shares
        // its address with another keeps working without an entry (see docs/storage.md).
        var emailKey = read.EmailKey;
        List<TableTransactionAction> moves = [];
        var addedEmailIndex = -1;
        if (user.NormalizedEmail != read.NormalizedEmail)
        {
            if (read.EmailKey is { } oldKey)
            {
                moves.Add(new(TableTransactionActionType.Delete, new TableEntity(Partition, EmailPrefix + oldKey), ETag.All));
            }

            emailKey = user.NormalizedEmail is { } email ? EmailAddresses.Key(email) : null;
            if (emailKey is not null)
            {
                addedEmailIndex = 1 + moves.Count;
                moves.Add(new(TableTransactionActionType.Add, new TableEntity(Partition, EmailPrefix + emailKey) { ["UserId"] = user.Id }));
            }
        }

        var update = new TableTransactionAction(TableTransactionActionType.UpdateReplace, ToEntity(user, emailKey), read.ETag);
        if (!keepAnActiveAdmin && read.WasActiveAdmin == IsActiveAdmin(user) && moves.Count == 0)
        {
            // The common case (lockout counters, profile, password): who is an active admin does not change,
            // so the roster stays right and the user's ETag alone decides. No roster read on the login path.
            try
            {
                await Table.UpdateEntityAsync(update.Entity, read.ETag, TableUpdateMode.Replace, cancellationToken);
                return WriteOutcome.Written;
            }
            catch (RequestFailedException e) when (IsStale(e))
            {
                return WriteOutcome.Conflict;
            }
        }

        var rosterNeeded = keepAnActiveAdmin || read.WasActiveAdmin != IsActiveAdmin(user);
        for (var attempt = 0; ; attempt++)
        {
            List<TableTransactionAction> actions = [update, .. moves];
            if (rosterNeeded)
            {
                var roster = await ReadRosterAsync(cancellationToken);
                if (keepAnActiveAdmin && !roster.Ids.Any(id => id != user.Id))
                {
                    return WriteOutcome.LastAdmin;
                }

                // The roster is written with the user whenever the rule was asked for, even if its ids stay the
                // same: its ETag then proves at commit that the "another admin exists" read still holds.
                actions.Add(roster.Write(IsActiveAdmin(user) ? roster.Ids.Add(user.Id) : roster.Ids.Remove(user.Id)));
            }

            try
            {
                // The user comes first, so a stale user is reported as index 0 even when the roster moved too.
                await Table.SubmitEntityGroupAsync(actions, cancellationToken);
                return WriteOutcome.Written;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == 0 && IsStale(e))
            {
                return WriteOutcome.Conflict;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex == addedEmailIndex && e.Status == TableEntities.Conflict)
            {
                return WriteOutcome.EmailTaken;
            }
            catch (TableTransactionFailedException e) when (rosterNeeded && e.FailedTransactionActionIndex == actions.Count - 1 && IsStale(e) && storage.MayRetry(attempt))
            {
                // Only the roster moved (another admin's change): re-read it and decide the rule again.
                await storage.BackOffAsync("Update admin roster", attempt, cancellationToken);
            }
        }
    }

    /// <summary>412: changed since read; 409: inserted by someone else meanwhile; 404: gone since read.</summary>
    private static bool IsStale(RequestFailedException e) =>
        e.Status is TableEntities.PreconditionFailed or TableEntities.Conflict or TableEntities.NotFound;

    private static bool IsActiveAdmin(User user) => user.Role == Role.Admin && user.Status == UserStatus.Active;

    /// <summary>
    /// <see cref="User.Version"/> is opaque to callers: here it is the entity's ETag plus whether the user was an
    /// active admin in the state read, the email as read and the email entry the user owns. Together they tell an
    /// update whether it changes the roster or moves the email entry without reading either; should the state have
    /// moved on since, the ETag fails the write anyway.
    /// </summary>
    private static string Version(TableEntity entity, User user) =>
        string.Join(VersionSeparator, (IsActiveAdmin(user) ? "A" : "-") + entity.ETag, entity.GetString("EmailKey") ?? "", user.NormalizedEmail ?? "");

    private const char VersionSeparator = '\u001f';

    private sealed record ReadVersion(ETag ETag, bool WasActiveAdmin, string? EmailKey, string? NormalizedEmail);

    private static bool TryParseVersion(string version, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ReadVersion? read)
    {
        var parts = version.Split(VersionSeparator);
        if (parts is not [{ Length: >= 2 } head, var emailKey, var email] || head[0] is not ('A' or '-'))
        {
            read = null;
            return false;
        }

        read = new ReadVersion(new ETag(head[1..]), head[0] == 'A', emailKey is "" ? null : emailKey, email is "" ? null : email);
        return true;
    }

    private async Task<Roster> ReadRosterAsync(CancellationToken cancellationToken)
    {
        var entity = await Table.FindAsync(Partition, RosterKey, cancellationToken);
        var ids = entity?.GetString("Ids") is { Length: > 0 } text
            ? text.Split(' ').ToImmutableSortedSet(StringComparer.Ordinal)
            : ImmutableSortedSet.Create<string>(StringComparer.Ordinal);
        return new Roster(ids, entity?.ETag);
    }

    /// <summary>
    /// The ids of every active admin, as one entity. Written only together with the user whose membership
    /// changes, under its ETag (or as an insert when it does not exist yet), so it always equals the set of
    /// users whose role is admin and status active.
    /// </summary>
    private sealed record Roster(ImmutableSortedSet<string> Ids, ETag? ETag)
    {
        public TableTransactionAction Write(ImmutableSortedSet<string> ids)
        {
            var entity = new TableEntity(Partition, RosterKey) { ["Ids"] = string.Join(' ', ids), ["Count"] = ids.Count };
            return ETag is { } etag
                ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, etag)
                : new TableTransactionAction(TableTransactionActionType.Add, entity);
        }
    }

    private static TableEntity ToEntity(User user, string? emailKey)
    {
        var entity = new TableEntity(Partition, UserPrefix + user.Id)
        {
            ["Username"] = user.Username,
            ["Role"] = user.Role.ToWire(),
            ["Status"] = user.Status.ToWire(),
            ["PasswordHash"] = user.PasswordHash,
            ["FailedLogins"] = user.FailedLogins,
            ["LockoutCount"] = user.LockoutCount,
            ["CreatedAt"] = user.CreatedAt,
            ["UpdatedAt"] = user.UpdatedAt,
        };
        entity.SetOrRemove("Email", user.Email);
        entity.SetOrRemove("DisplayName", user.DisplayName);
        entity.SetOrRemove("StatusReason", user.StatusReason);
        entity.SetOrRemove("LockedUntil", user.LockedUntil);
        entity.SetOrRemove("EmailVerifiedAt", user.EmailVerifiedAt);
        entity.SetOrRemove("EmailVerificationRequired", user.EmailVerificationRequired ? true : null);
        // The email entry this user owns (see Version); absent for accounts whose address is not indexed.
        entity.SetOrRemove("EmailKey", emailKey);
        return entity;
    }

    private static User FromEntity(TableEntity entity)
    {
        RoleNames.TryParseRole(entity.GetString("Role"), out var role);
        RoleNames.TryParseStatus(entity.GetString("Status"), out var status);
        var user = new User
        {
            Id = entity.RowKey[UserPrefix.Length..],
            Username = entity.RequiredString("Username"),
            Email = entity.GetString("Email"),
            DisplayName = entity.GetString("DisplayName"),
            Role = role,
            Status = status,
            StatusReason = entity.GetString("StatusReason"),
            PasswordHash = entity.RequiredString("PasswordHash"),
            FailedLogins = entity.Int("FailedLogins"),
            LockoutCount = entity.Int("LockoutCount"),
            LockedUntil = entity.GetDateTimeOffset("LockedUntil"),
            CreatedAt = entity.RequiredTime("CreatedAt"),
            UpdatedAt = entity.RequiredTime("UpdatedAt"),
            EmailVerifiedAt = entity.GetDateTimeOffset("EmailVerifiedAt"),
            EmailVerificationRequired = entity.GetBoolean("EmailVerificationRequired") == true,
        };
        return user with { Version = Version(entity, user) };
    }
}
