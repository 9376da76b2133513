using System.Globalization;
using System.Text;
using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Budgets;
using IronAuth.Core.Limits;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Budgets in the Budgets table, a partition per budget (partition = budget id): the <c>budget</c> entity with the
/// ledger's counters, <c>ic:{jti}</c>, <c>lease:{id}</c>, <c>report:{report_id}</c> and <c>agent:{agent_id}</c>; and each
/// owner's index (<c>user:{ownerId}</c>/<c>{budgetId}</c>, inserted before the budget). The purge index (Due) holds an
/// entry per lease at its expiry and per budget at its end, for maintenance; and, per day, the budgets with reports that
/// day (<see cref="PurgeIndex.BudgetActivity"/>), so analytics of a day reads only those budgets' day rows.
/// <para>
/// Round trips and races. A grant, report or close is one range read of the partition (the budget, the IC token, the lease
/// and, for a report, the report id and the agent's total and day rows — a single query) and one entity-group transaction
/// that replaces the budget entity under the ETag it was read with, together with the lease(s), report, agent and day rows
/// (a grant also indexes its new lease in Due, one insert between the two, so maintenance finds it when it expires; an
/// agent's first report of a day likewise indexes the budget under that day first, so no day row exists unindexed).
/// Every write to a budget's money or state (grant, report, close, expiry, allocation change, revocation of the budget or
/// of an IC token) changes the budget entity, so its ETag serializes them all: a write decided on a budget that changed
/// since it was read fails with 412 as a whole and is decided again from a fresh read. Hence grants are exact under any number of
/// concurrent callers in any number of processes, and a revocation stops every write that commits after it. A report id
/// already stored makes the report a no-op; two retries of one report racing each other both try to add its row, and the
/// loser's transaction fails (409) and re-reads as a duplicate.
/// </para>
/// <para>
/// Within a process, writes to one budget queue on a gate (striped by budget id, so memory stays bounded) rather than
/// racing each other through the service: only writers in different processes ever lose an ETag race, and each loss costs
/// one more read and transaction after a jittered back-off.
/// </para>
/// </summary>
public sealed class TableBudgetStore(TableStorage storage) : IBudgetStore
{
    private const string BudgetKey = "budget";
    private const string IcPrefix = "ic:";
    private const string LeasePrefix = "lease:";
    private const string LeaseEnd = "lease;";
    private const string ReportPrefix = "report:";
    private const string AgentPrefix = "agent:";
    private const string AgentEnd = "agent;";
    private const string DayPrefix = "day:";
    private const string OwnerPrefix = "user:";
    private const string DueLeases = "budgetlease";
    private const string DueBudgets = "budget";

    // Many more than the store's usual ConflictRetries: grants on one hot budget from several processes are expected to
    // collide, and a caller should wait its turn rather than be refused.
    private const int MaxAttempts = 64;
    private const int Stripes = 64;

    private readonly SemaphoreSlim[] gates = [.. Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1))];

    private TableClient Table => storage.Budgets;

    public async Task CreateAsync(Budget budget, CancellationToken cancellationToken)
    {
        EnsureKeySafe(budget.Id);
        EnsureKeySafe(budget.UserId);
        // Indexes first: nothing exists that maintenance or a listing could miss.
        await Task.WhenAll(
            Table.UpsertEntityAsync(new TableEntity(OwnerPrefix + budget.UserId, budget.Id), TableUpdateMode.Replace, cancellationToken),
            storage.AddAsync(DueBudgets, budget.ExpiresAt, budget.Id, cancellationToken));
        var entity = new TableEntity(budget.Id, BudgetKey)
        {
            ["UserId"] = budget.UserId,
            ["Name"] = budget.Name,
            ["CreatedAt"] = budget.CreatedAt,
            ["ExpiresAt"] = budget.ExpiresAt,
        };
        entity.SetOrRemove("LlmTokens", budget.LlmTokens);
        WriteCounters(entity, budget);
        await Table.AddEntityAsync(entity, cancellationToken);
    }

    public async Task<Budget?> FindAsync(string id, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(id) && await Table.FindAsync(id, BudgetKey, cancellationToken) is { } entity ? ToBudget(entity) : null;

    public async Task<IReadOnlyDictionary<string, long>> SpendByAgentAsync(string id, CancellationToken cancellationToken)
    {
        var spend = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {id} and RowKey ge {AgentPrefix} and RowKey lt {AgentEnd}");
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            spend[entity.RowKey[AgentPrefix.Length..]] = entity.GetInt64("Spent") ?? 0;
        }

        return spend;
    }

    /// <summary>
    /// One read of the day index's partition per day of the range (8 at a time) lists the budgets with reports those days;
    /// then one range read of each such budget's partition (the budget and its <c>day:</c> rows in range), 8 at a time. A
    /// one-day query thus costs 1 + (budgets with reports that day) reads. An index entry whose budget is gone is skipped.
    /// </summary>
    public async Task<IReadOnlyList<BudgetSpend>> ListSpendAsync(DateOnly from, DateOnly to, string? ownerId, CancellationToken cancellationToken)
    {
        var budgetIds = new SortedSet<string>(StringComparer.Ordinal);
        var days = Enumerable.Range(0, to.DayNumber - from.DayNumber + 1).Select(from.AddDays);
        foreach (var chunk in days.Chunk(PurgeIndex.Parallelism))
        {
            var listed = await Task.WhenAll(chunk.Select(async day =>
            {
                var partition = PurgeIndex.Partition(PurgeIndex.BudgetActivity, PurgeIndex.Midnight(day));
                var ids = new List<string>();
                await foreach (var entry in storage.Due.QueryAsync<TableEntity>(
                    TableClient.CreateQueryFilter($"PartitionKey eq {partition}"), select: ["RowKey", "OwnerId"], cancellationToken: cancellationToken))
                {
                    if ((ownerId is null || entry.GetString("OwnerId") == ownerId) && TableEntities.IsKeySafe(entry.RowKey))
                    {
                        ids.Add(entry.RowKey);
                    }
                }

                return ids;
            }));
            budgetIds.UnionWith(listed.SelectMany(ids => ids));
        }

        var spend = new List<BudgetSpend>();
        foreach (var chunk in budgetIds.Chunk(PurgeIndex.Parallelism))
        {
            foreach (var rows in await Task.WhenAll(chunk.Select(id => SpendAsync(id, from, to, cancellationToken))))
            {
                spend.AddRange(rows);
            }
        }

        return spend;
    }

    private async Task<IReadOnlyList<BudgetSpend>> SpendAsync(string budgetId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {budgetId} and (RowKey eq {BudgetKey} or (RowKey ge {DayKey(from)} and RowKey lt {DayPrefix + Day(to) + ";"}))");
        TableEntity? budget = null;
        var agents = new SortedDictionary<string, (long Requests, long Tokens, long Cost)>(StringComparer.Ordinal);
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            if (entity.RowKey == BudgetKey)
            {
                budget = entity;
                continue;
            }

            var agent = entity.RowKey[(DayPrefix.Length + 11)..];
            var sums = agents.GetValueOrDefault(agent);
            agents[agent] = (
                QuotaRules.Saturating(sums.Requests, entity.GetInt64("Requests") ?? 0),
                QuotaRules.Saturating(sums.Tokens, entity.GetInt64("SpentTokens") ?? 0),
                QuotaRules.Saturating(sums.Cost, entity.GetInt64("Spent") ?? 0));
        }

        // A budget purged after the index was read: nothing of it counts.
        return budget is null
            ? []
            : [.. agents.Select(a => new BudgetSpend(budgetId, budget.RequiredString("Name"), budget.RequiredString("UserId"), a.Key, a.Value.Requests, a.Value.Tokens, a.Value.Cost))];
    }

    /// <summary>The prefix of a day's rows: <c>day:{yyyy-MM-dd}:</c>, then the agent id.</summary>
    private static string DayKey(DateOnly day) => DayPrefix + Day(day) + ":";

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public async Task<Page<Budget>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken)
    {
        var rows = new List<Budget>();
        if (userId is not null)
        {
            if (!TableEntities.IsKeySafe(userId))
            {
                return new Page<Budget>([], null);
            }

            // The owner's index in id order, then the budgets themselves (an index row whose budget was purged finds nothing).
            var filter = position is null
                ? TableClient.CreateQueryFilter($"PartitionKey eq {OwnerPrefix + userId}")
                : TableClient.CreateQueryFilter($"PartitionKey eq {OwnerPrefix + userId} and RowKey gt {position}");
            var ids = new List<string>();
            await foreach (var page in Table.QueryAsync<TableEntity>(filter, limit + 1, ["RowKey"], cancellationToken).AsPages())
            {
                ids.AddRange(page.Values.Select(e => e.RowKey));
                if (ids.Count > limit)
                {
                    break;
                }
            }

            var found = await Task.WhenAll(ids.Take(limit + 1).Select(id => FindAsync(id, cancellationToken)));
            rows.AddRange(found.OfType<Budget>());
        }
        else
        {
            // Every budget entity, in partition (= id) order: a scan of the table, for administrators' listings.
            var filter = position is null
                ? TableClient.CreateQueryFilter($"RowKey eq {BudgetKey}")
                : TableClient.CreateQueryFilter($"RowKey eq {BudgetKey} and PartitionKey gt {position}");
            await foreach (var page in Table.QueryAsync<TableEntity>(filter, limit + 1, cancellationToken: cancellationToken).AsPages())
            {
                rows.AddRange(page.Values.Select(ToBudget));
                if (rows.Count > limit)
                {
                    break;
                }
            }
        }

        return Page<Budget>.FromOverfetch([.. rows.Take(limit + 1)], limit, b => b.Id);
    }

    public Task<(AllocationOutcome Outcome, Budget? Budget)> SetAllocationAsync(string id, long allocationMicros, CancellationToken cancellationToken) =>
        WriteAsync(id, "Set budget allocation", (AllocationOutcome.NotFound, (Budget?)null), async () =>
        {
            if (!TableEntities.IsKeySafe(id) || await Table.FindAsync(id, BudgetKey, cancellationToken) is not { } entity)
            {
                return (AllocationOutcome.NotFound, null);
            }

            var budget = ToBudget(entity);
            if (allocationMicros < budget.SpentMicros)
            {
                return (AllocationOutcome.BelowSpent, budget);
            }

            entity["Allocation"] = allocationMicros;
            await Table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
            return (AllocationOutcome.Changed, budget with { AllocationMicros = allocationMicros });
        }, cancellationToken);

    public Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(id, "Revoke budget", false, async () =>
        {
            if (!TableEntities.IsKeySafe(id) || await Table.FindAsync(id, BudgetKey, cancellationToken) is not { } entity || entity.ContainsKey("RevokedAt"))
            {
                return false;
            }

            // Due for purging from its revocation on: index it before it is revoked.
            await storage.AddAsync(DueBudgets, now, id, cancellationToken);
            entity["RevokedAt"] = now;
            await Table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<bool> SetCredentialAsync(string id, string provider, byte[] sealedSecret, CancellationToken cancellationToken) =>
        WriteAsync(id, "Set budget credential", false, async () =>
        {
            if (!TableEntities.IsKeySafe(id) || await Table.FindAsync(id, BudgetKey, cancellationToken) is not { } entity)
            {
                return false;
            }

            entity["Provider"] = provider;
            entity["Credential"] = sealedSecret;
            await Table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }, cancellationToken);

    public async Task<bool> AddIcTokenAsync(IcTokenRecord token, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(token.BudgetId) || await Table.FindAsync(token.BudgetId, BudgetKey, cancellationToken) is null)
        {
            return false;
        }

        await Table.AddEntityAsync(
            new TableEntity(token.BudgetId, IcPrefix + token.Jti)
            {
                ["AgentId"] = token.AgentId,
                ["Permissions"] = string.Join(' ', token.Permissions),
                ["IssuedAt"] = token.IssuedAt,
                ["ExpiresAt"] = token.ExpiresAt,
            },
            cancellationToken);
        return true;
    }

    public async Task<IcTokenRecord?> FindIcTokenAsync(string budgetId, string jti, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(budgetId) && TableEntities.IsKeySafe(jti) && await Table.FindAsync(budgetId, IcPrefix + jti, cancellationToken) is { } entity
            ? ToIcToken(entity)
            : null;

    public Task<bool> RevokeIcTokenAsync(string budgetId, string jti, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(budgetId, "Revoke IC token", false, async () =>
        {
            if (!TableEntities.IsKeySafe(budgetId) || !TableEntities.IsKeySafe(jti))
            {
                return false;
            }

            // The budget, the token and the token's open leases in one read; the token marked revoked, the leases closed
            // and their unspent parts returned in one transaction under the budget's ETag (at most 98 leases per
            // transaction: a token with more is finished by the next rounds, already revoked).
            var filter = TableClient.CreateQueryFilter(
                $"PartitionKey eq {budgetId} and (RowKey eq {BudgetKey} or RowKey eq {IcPrefix + jti} or (RowKey ge {LeasePrefix} and RowKey lt {LeaseEnd} and Jti eq {jti} and Open eq true))");
            TableEntity? budgetEntity = null, icEntity = null;
            var open = new List<TableEntity>();
            await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                if (entity.RowKey == BudgetKey)
                {
                    budgetEntity = entity;
                }
                else if (entity.RowKey.StartsWith(IcPrefix, StringComparison.Ordinal))
                {
                    icEntity = entity;
                }
                else
                {
                    open.Add(entity);
                }
            }

            if (budgetEntity is null || icEntity is null || icEntity.ContainsKey("RevokedAt"))
            {
                return false;
            }

            var budget = ToBudget(budgetEntity);
            var actions = new List<TableTransactionAction>();
            foreach (var leaseEntity in open.Take(TableBatch.MaxActions - 2))
            {
                var (after, closed, _) = BudgetLedger.Close(budget, ToLease(leaseEntity), now, BudgetLedger.ReasonRevoked);
                budget = after;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, ToEntity(closed), leaseEntity.ETag));
            }

            var final = open.Count <= TableBatch.MaxActions - 2;
            if (final)
            {
                icEntity["RevokedAt"] = now;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, icEntity, icEntity.ETag));
            }

            WriteCounters(budgetEntity, budget);
            actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, budgetEntity, budgetEntity.ETag));
            await Table.SubmitEntityGroupAsync(actions, cancellationToken);
            return final || await RevokeIcTokenAsync(budgetId, jti, now, cancellationToken);
        }, cancellationToken);

    public Task<LeaseGrantResult> GrantAsync(LeaseGrantRequest request, CancellationToken cancellationToken)
    {
        var caller = request.Caller;
        if (!TableEntities.IsKeySafe(caller.BudgetId) || !TableEntities.IsKeySafe(caller.Jti))
        {
            return Task.FromResult(LeaseGrantResult.Refused(BudgetRefusal.UnknownIcToken));
        }

        var indexed = new HashSet<DateTimeOffset>();
        return WriteAsync(caller.BudgetId, "Grant budget lease", LeaseGrantResult.Refused(BudgetRefusal.Busy), async () =>
        {
            var rows = await ReadAsync(caller.BudgetId, [BudgetKey, IcPrefix + caller.Jti, .. request.PreviousLeaseId is { } p ? [LeasePrefix + p] : Array.Empty<string>()], cancellationToken);
            var budgetEntity = rows.GetValueOrDefault(BudgetKey);
            var budget = budgetEntity is null ? null : ToBudget(budgetEntity);
            var token = rows.GetValueOrDefault(IcPrefix + caller.Jti) is { } ic ? ToIcToken(ic) : null;
            if (BudgetLedger.CheckAccess(budget, token, caller) is var denied && denied != BudgetRefusal.None)
            {
                return LeaseGrantResult.Refused(denied);
            }

            var previousEntity = request.PreviousLeaseId is { } previousId ? rows.GetValueOrDefault(LeasePrefix + previousId) : null;
            var decision = BudgetLedger.Grant(budget!, token!, previousEntity is null ? null : ToLease(previousEntity), request);
            if (decision.Refusal != BudgetRefusal.None)
            {
                return LeaseGrantResult.Refused(decision.Refusal);
            }

            var lease = decision.NewLease!;
            // Indexed for maintenance before it exists, only once it is granted (a refused handshake writes nothing);
            // a retry after a lost race whose expiry is in the same hour finds the entry there already.
            if (indexed.Add(lease.ExpiresAt))
            {
                await storage.AddAsync(DueLeases, lease.ExpiresAt, caller.BudgetId + "|" + lease.Id, cancellationToken);
            }

            List<TableTransactionAction> actions = [new(TableTransactionActionType.Add, ToEntity(lease))];
            if (decision.ClosedPrevious is { } closed)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, ToEntity(closed), previousEntity!.ETag));
            }

            WriteCounters(budgetEntity!, decision.Budget!);
            actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, budgetEntity!, budgetEntity!.ETag));
            await Table.SubmitEntityGroupAsync(actions, cancellationToken);
            var credential = budgetEntity.GetBinary("Credential");
            return new LeaseGrantResult(BudgetRefusal.None, lease, decision.GrantedMicros, decision.CarriedMicros, decision.Budget)
            {
                Provider = credential is null ? null : budget!.Provider,
                SealedCredential = credential,
            };
        }, cancellationToken);
    }

    public Task<LeaseReportResult> ReportAsync(LeaseReportRequest request, CancellationToken cancellationToken)
    {
        var caller = request.Caller;
        if (!TableEntities.IsKeySafe(caller.BudgetId) || !TableEntities.IsKeySafe(caller.Jti))
        {
            return Task.FromResult(LeaseReportResult.Refused(BudgetRefusal.UnknownIcToken));
        }

        var leaseKey = LeasePrefix + request.LeaseId;
        var reportKey = ReportPrefix + request.ReportId;
        var agentKey = AgentPrefix + caller.AgentId;
        var day = DateOnly.FromDateTime(caller.Now.UtcDateTime);
        var dayKey = DayKey(day) + caller.AgentId;
        return WriteAsync(caller.BudgetId, "Report budget usage", LeaseReportResult.Refused(BudgetRefusal.Busy), async () =>
        {
            var rows = await ReadAsync(caller.BudgetId, [BudgetKey, IcPrefix + caller.Jti, leaseKey, reportKey, agentKey, dayKey], cancellationToken);
            var budgetEntity = rows.GetValueOrDefault(BudgetKey);
            var budget = budgetEntity is null ? null : ToBudget(budgetEntity);
            var token = rows.GetValueOrDefault(IcPrefix + caller.Jti) is { } ic ? ToIcToken(ic) : null;
            if (BudgetLedger.CheckAccess(budget, token, caller) is var denied && denied != BudgetRefusal.None)
            {
                return LeaseReportResult.Refused(denied);
            }

            if (rows.GetValueOrDefault(leaseKey) is not { } leaseEntity || ToLease(leaseEntity) is var lease && lease.Jti != caller.Jti)
            {
                return LeaseReportResult.Refused(BudgetRefusal.LeaseNotFound);
            }

            if (rows.GetValueOrDefault(reportKey) is { } earlier)
            {
                return BudgetLedger.Repeated(budget!, lease, earlier.GetString("LeaseId"), earlier.GetBoolean("Overrun") ?? false, caller.Now);
            }

            var decision = BudgetLedger.Report(budget!, lease, request.Tokens, request.CostMicros, caller.Now);
            var agent = rows.GetValueOrDefault(agentKey);
            var agentAfter = new TableEntity(caller.BudgetId, agentKey)
            {
                ["Spent"] = QuotaRules.Saturating(agent?.GetInt64("Spent") ?? 0, request.CostMicros),
                ["SpentTokens"] = QuotaRules.Saturating(agent?.GetInt64("SpentTokens") ?? 0, request.Tokens),
            };
            var dayRow = rows.GetValueOrDefault(dayKey);
            var dayAfter = new TableEntity(caller.BudgetId, dayKey)
            {
                ["Requests"] = QuotaRules.Saturating(dayRow?.GetInt64("Requests") ?? 0, 1),
                ["Spent"] = QuotaRules.Saturating(dayRow?.GetInt64("Spent") ?? 0, request.CostMicros),
                ["SpentTokens"] = QuotaRules.Saturating(dayRow?.GetInt64("SpentTokens") ?? 0, request.Tokens),
            };
            if (dayRow is null)
            {
                await storage.Due.InsertAsync(
                    new TableEntity(PurgeIndex.Partition(PurgeIndex.BudgetActivity, PurgeIndex.Midnight(day)), caller.BudgetId) { ["OwnerId"] = budget!.UserId },
                    cancellationToken);
            }

            WriteCounters(budgetEntity!, decision.Budget);
            List<TableTransactionAction> actions =
            [
                new(TableTransactionActionType.UpdateReplace, budgetEntity!, budgetEntity!.ETag),
                new(TableTransactionActionType.UpdateReplace, ToEntity(decision.Lease), leaseEntity.ETag),
                agent is null
                    ? new(TableTransactionActionType.Add, agentAfter)
                    : new(TableTransactionActionType.UpdateReplace, agentAfter, agent.ETag),
                dayRow is null
                    ? new(TableTransactionActionType.Add, dayAfter)
                    : new(TableTransactionActionType.UpdateReplace, dayAfter, dayRow.ETag),
                new(TableTransactionActionType.Add, new TableEntity(caller.BudgetId, reportKey)
                {
                    ["LeaseId"] = lease.Id,
                    ["Cost"] = request.CostMicros,
                    ["Tokens"] = request.Tokens,
                    ["Overrun"] = decision.Overrun,
                    ["At"] = caller.Now,
                }),
            ];
            await Table.SubmitEntityGroupAsync(actions, cancellationToken);
            return new LeaseReportResult(BudgetRefusal.None, decision.LeaseRemainingMicros, decision.Budget.AvailableMicros, decision.Overrun, Duplicate: false);
        }, cancellationToken);
    }

    public Task<LeaseCloseResult> CloseAsync(IcCaller caller, string leaseId, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(caller.BudgetId) || !TableEntities.IsKeySafe(caller.Jti))
        {
            return Task.FromResult(LeaseCloseResult.Refused(BudgetRefusal.UnknownIcToken));
        }

        return WriteAsync(caller.BudgetId, "Close budget lease", LeaseCloseResult.Refused(BudgetRefusal.Busy), async () =>
        {
            var rows = await ReadAsync(caller.BudgetId, [BudgetKey, IcPrefix + caller.Jti, LeasePrefix + leaseId], cancellationToken);
            var budgetEntity = rows.GetValueOrDefault(BudgetKey);
            var budget = budgetEntity is null ? null : ToBudget(budgetEntity);
            var token = rows.GetValueOrDefault(IcPrefix + caller.Jti) is { } ic ? ToIcToken(ic) : null;
            if (BudgetLedger.CheckAccess(budget, token, caller) is var denied && denied != BudgetRefusal.None)
            {
                return LeaseCloseResult.Refused(denied);
            }

            if (rows.GetValueOrDefault(LeasePrefix + leaseId) is not { } leaseEntity || ToLease(leaseEntity) is var lease && lease.Jti != caller.Jti)
            {
                return LeaseCloseResult.Refused(BudgetRefusal.LeaseNotFound);
            }

            if (!lease.IsOpenAt(caller.Now))
            {
                return LeaseCloseResult.Refused(BudgetRefusal.LeaseClosed);
            }

            var (after, closed, returned) = BudgetLedger.Close(budget!, lease, caller.Now, BudgetLedger.ReasonClosed);
            WriteCounters(budgetEntity!, after);
            await Table.SubmitEntityGroupAsync(
                [
                    new(TableTransactionActionType.UpdateReplace, ToEntity(closed), leaseEntity.ETag),
                    new(TableTransactionActionType.UpdateReplace, budgetEntity!, budgetEntity!.ETag),
                ],
                cancellationToken);
            return new LeaseCloseResult(BudgetRefusal.None, returned, after.AvailableMicros);
        }, cancellationToken);
    }

    public Task<int> ExpireLeasesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(DueLeases, now, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            var separator = entry.Key.IndexOf('|', StringComparison.Ordinal);
            if (separator <= 0)
            {
                return PurgeIndex.Visit.Done(0);
            }

            var budgetId = entry.Key[..separator];
            var leaseKey = LeasePrefix + entry.Key[(separator + 1)..];
            return await WriteAsync(budgetId, "Expire budget lease", PurgeIndex.Visit.Later(now), async () =>
            {
                var rows = await ReadAsync(budgetId, [BudgetKey, leaseKey], ct);
                if (rows.GetValueOrDefault(BudgetKey) is not { } budgetEntity || rows.GetValueOrDefault(leaseKey) is not { } leaseEntity
                    || ToLease(leaseEntity) is not { IsOpen: true } lease)
                {
                    return PurgeIndex.Visit.Done(0);
                }

                if (lease.ExpiresAt > now)
                {
                    return PurgeIndex.Visit.Later(lease.ExpiresAt);
                }

                var (after, closed, _) = BudgetLedger.Close(ToBudget(budgetEntity), lease, now, BudgetLedger.ReasonExpired);
                WriteCounters(budgetEntity, after);
                await Table.SubmitEntityGroupAsync(
                    [
                        new(TableTransactionActionType.UpdateReplace, ToEntity(closed), leaseEntity.ETag),
                        new(TableTransactionActionType.UpdateReplace, budgetEntity, budgetEntity.ETag),
                    ],
                    ct);
                return PurgeIndex.Visit.Done(1);
            }, ct);
        }, cancellationToken);

    public Task<int> PurgeAsync(DateTimeOffset threshold, int batch, CancellationToken cancellationToken) =>
        storage.PurgeAsync(DueBudgets, threshold, batch, PurgeIndex.Parallelism, async (entry, _, ct) =>
        {
            if (!TableEntities.IsKeySafe(entry.Key) || await Table.FindAsync(entry.Key, BudgetKey, ct) is not { } entity)
            {
                return PurgeIndex.Visit.Done(0);
            }

            var budget = ToBudget(entity);
            if (budget.EndsAt >= threshold)
            {
                return PurgeIndex.Visit.Later(budget.EndsAt);
            }

            // Everything of the partition, the budget entity last, then the owner's index row.
            var keys = new List<string>();
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {entry.Key} and RowKey ne {BudgetKey}");
            await foreach (var row in Table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: ct))
            {
                keys.Add(row.RowKey);
            }

            // The day index's entries first: one left behind by a crash is skipped by readers, a day row never unindexed.
            foreach (var day in keys.Where(k => k.StartsWith(DayPrefix, StringComparison.Ordinal)).Select(k => k[DayPrefix.Length..(DayPrefix.Length + 10)]).Distinct())
            {
                var midnight = PurgeIndex.Midnight(DateOnly.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture));
                await storage.Due.DeleteEntityAsync(PurgeIndex.Partition(PurgeIndex.BudgetActivity, midnight), entry.Key, ETag.All, ct);
            }

            if (keys.Count > 0)
            {
                await Table.DeleteAllAsync(entry.Key, keys, ct);
            }

            await Table.DeleteEntityAsync(entry.Key, BudgetKey, ETag.All, ct);
            await Table.DeleteEntityAsync(OwnerPrefix + budget.UserId, budget.Id, ETag.All, ct);
            return PurgeIndex.Visit.Done(1);
        }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="attempt"/> behind the budget's in-process gate, again after a back-off whenever its conditional
    /// write lost a race (412) or met a row another writer added first (409); <paramref name="busy"/> after too many losses.
    /// </summary>
    private async Task<T> WriteAsync<T>(string budgetId, string operation, T busy, Func<Task<T>> attempt, CancellationToken cancellationToken)
    {
        var gate = gates[(int)((uint)StringComparer.Ordinal.GetHashCode(budgetId) % Stripes)];
        await gate.WaitAsync(cancellationToken);
        try
        {
            for (var i = 0; ; i++)
            {
                try
                {
                    return await attempt();
                }
                catch (RequestFailedException e) when (e.Status is TableEntities.PreconditionFailed or TableEntities.Conflict)
                {
                    if (i + 1 >= MaxAttempts)
                    {
                        return busy;
                    }

                    await storage.BackOffAsync(operation, Math.Min(i, 6), cancellationToken);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The named rows of a budget's partition, in one query.</summary>
    private async Task<Dictionary<string, TableEntity>> ReadAsync(string budgetId, IReadOnlyList<string> rowKeys, CancellationToken cancellationToken)
    {
        var filter = new StringBuilder(TableClient.CreateQueryFilter($"PartitionKey eq {budgetId}")).Append(" and (");
        for (var i = 0; i < rowKeys.Count; i++)
        {
            filter.Append(i == 0 ? "" : " or ").Append(TableClient.CreateQueryFilter($"RowKey eq {rowKeys[i]}"));
        }

        var rows = new Dictionary<string, TableEntity>(StringComparer.Ordinal);
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter.Append(')').ToString(), cancellationToken: cancellationToken))
        {
            rows[entity.RowKey] = entity;
        }

        return rows;
    }

    private static void EnsureKeySafe(string value)
    {
        if (!TableEntities.IsKeySafe(value))
        {
            throw new ArgumentException("Ids must be usable as table keys.", nameof(value));
        }
    }

    private static void WriteCounters(TableEntity entity, Budget budget)
    {
        entity["Allocation"] = budget.AllocationMicros;
        entity["Spent"] = budget.SpentMicros;
        entity["SpentTokens"] = budget.SpentTokens;
        entity["Granted"] = budget.GrantedMicros;
        entity["Reserved"] = budget.ReservedMicros;
        entity["OpenLeases"] = budget.OpenLeases;
    }

    private static Budget ToBudget(TableEntity e) => new()
    {
        Id = e.PartitionKey,
        UserId = e.RequiredString("UserId"),
        Name = e.RequiredString("Name"),
        AllocationMicros = e.GetInt64("Allocation") ?? 0,
        LlmTokens = e.GetInt64("LlmTokens"),
        SpentMicros = e.GetInt64("Spent") ?? 0,
        SpentTokens = e.GetInt64("SpentTokens") ?? 0,
        GrantedMicros = e.GetInt64("Granted") ?? 0,
        ReservedMicros = e.GetInt64("Reserved") ?? 0,
        OpenLeases = e.Int("OpenLeases"),
        CreatedAt = e.RequiredTime("CreatedAt"),
        ExpiresAt = e.RequiredTime("ExpiresAt"),
        RevokedAt = e.GetDateTimeOffset("RevokedAt"),
        Provider = e.GetString("Provider"),
    };

    private static IcTokenRecord ToIcToken(TableEntity e) => new()
    {
        BudgetId = e.PartitionKey,
        Jti = e.RowKey[IcPrefix.Length..],
        AgentId = e.RequiredString("AgentId"),
        Permissions = e.RequiredString("Permissions").Split(' ', StringSplitOptions.RemoveEmptyEntries),
        IssuedAt = e.RequiredTime("IssuedAt"),
        ExpiresAt = e.RequiredTime("ExpiresAt"),
        RevokedAt = e.GetDateTimeOffset("RevokedAt"),
    };

    private static Lease ToLease(TableEntity e) => new()
    {
        Id = e.RowKey[LeasePrefix.Length..],
        BudgetId = e.PartitionKey,
        AgentId = e.RequiredString("AgentId"),
        Jti = e.RequiredString("Jti"),
        GrantedMicros = e.GetInt64("Granted") ?? 0,
        SpentMicros = e.GetInt64("Spent") ?? 0,
        SpentTokens = e.GetInt64("SpentTokens") ?? 0,
        CreatedAt = e.RequiredTime("CreatedAt"),
        ExpiresAt = e.RequiredTime("ExpiresAt"),
        ClosedAt = e.GetDateTimeOffset("ClosedAt"),
        ClosedReason = e.GetString("ClosedReason"),
    };

    private static TableEntity ToEntity(Lease lease)
    {
        var entity = new TableEntity(lease.BudgetId, LeasePrefix + lease.Id)
        {
            ["AgentId"] = lease.AgentId,
            ["Jti"] = lease.Jti,
            ["Granted"] = lease.GrantedMicros,
            ["Spent"] = lease.SpentMicros,
            ["SpentTokens"] = lease.SpentTokens,
            ["CreatedAt"] = lease.CreatedAt,
            ["ExpiresAt"] = lease.ExpiresAt,
            // Queried by IC-token revocation: the open leases of one jti.
            ["Open"] = lease.IsOpen,
        };
        entity.SetOrRemove("ClosedAt", lease.ClosedAt);
        entity.SetOrRemove("ClosedReason", lease.ClosedReason);
        return entity;
    }
}
