using System.Collections.Concurrent;
using IronAuth.Core.Budgets;
using Microsoft.Data.Sqlite;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Budgets in <c>budgets</c> with their IC tokens, leases, reports and per-agent spend. Every call that moves money runs
/// in one BEGIN IMMEDIATE transaction, which holds the database's write lock from the first read to the commit, across
/// processes: the IC token and budget checks, the read of the counters, <see cref="BudgetLedger"/>'s decision and the
/// writes cannot interleave with any other grant, report or revocation, so concurrent grants never add up to more than
/// the allocation and a revocation stops every call that commits after it.
/// </summary>
public sealed class SqliteBudgetStore(SqliteDatabase database) : IBudgetStore
{
    private const int MaxReportBatch = 256;
    private readonly ConcurrentQueue<PendingReport> pendingReports = new();

    private const string BudgetColumns =
        "id, user_id, name, allocation_micros, llm_tokens, spent_micros, spent_tokens, granted_micros, reserved_micros, open_leases, created_at, expires_at, revoked_at, provider";

    private const string LeaseColumns =
        "id, budget_id, agent_id, jti, granted_micros, spent_micros, spent_tokens, created_at, expires_at, closed_at, closed_reason";

    // When a budget stopped for good; the same expression as the index ix_budgets_ends.
    private const string EndsAt = "MIN(COALESCE(revoked_at, expires_at), expires_at)";

    public async Task CreateAsync(Budget budget, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await connection.ExecuteAsync(
            $"""
            INSERT INTO budgets ({BudgetColumns}, credential)
            VALUES (@id, @user_id, @name, @allocation, @llm_tokens, 0, 0, 0, 0, 0, @created_at, @expires_at, NULL, NULL, NULL);
            """,
            cancellationToken,
            ("@id", budget.Id),
            ("@user_id", budget.UserId),
            ("@name", budget.Name),
            ("@allocation", budget.AllocationMicros),
            ("@llm_tokens", budget.LlmTokens),
            ("@created_at", budget.CreatedAt.ToUnixMs()),
            ("@expires_at", budget.ExpiresAt.ToUnixMs()));
    }

    public async Task<Budget?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await FindAsync(connection, id, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, long>> SpendByAgentAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            "SELECT agent_id, spent_micros FROM budget_agents WHERE budget_id = @id ORDER BY agent_id;",
            r => (r.GetString(0), r.GetInt64(1)),
            cancellationToken,
            ("@id", id));
        return rows.ToDictionary(r => r.Item1, r => r.Item2, StringComparer.Ordinal);
    }

    /// <summary>
    /// One range read of <c>ix_budget_reports_at</c> over the days' milliseconds, each report joined to its budget (name,
    /// owner) and its lease (agent); leases and reports go only with their budget, so every report finds both.
    /// </summary>
    public async Task<IReadOnlyList<BudgetSpend>> ListSpendAsync(DateOnly from, DateOnly to, string? ownerId, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await connection.QueryAsync(
            """
            SELECT r.budget_id, b.name, b.user_id, l.agent_id, COUNT(*), SUM(r.tokens), SUM(r.cost_micros)
            FROM budget_reports r INDEXED BY ix_budget_reports_at
            JOIN budgets b ON b.id = r.budget_id JOIN budget_leases l ON l.id = r.lease_id
            WHERE r.at >= @from AND r.at < @to AND (@owner IS NULL OR b.user_id = @owner)
            GROUP BY r.budget_id, l.agent_id;
            """,
            r => new BudgetSpend(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6)),
            cancellationToken,
            ("@from", Midnight(from).ToUnixMs()),
            ("@to", Midnight(to.AddDays(1)).ToUnixMs()),
            ("@owner", ownerId));
    }

    private static DateTimeOffset Midnight(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    public async Task<Page<Budget>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        var rows = await connection.QueryAsync(
            $"""
            SELECT {BudgetColumns} FROM budgets
            WHERE (@user_id IS NULL OR user_id = @user_id) AND (@after IS NULL OR id > @after)
            ORDER BY id LIMIT @limit;
            """,
            ReadBudget,
            cancellationToken,
            ("@user_id", userId),
            ("@after", position),
            ("@limit", limit + 1));
        return Page<Budget>.FromOverfetch(rows, limit, b => b.Id);
    }

    public async Task<(AllocationOutcome Outcome, Budget? Budget)> SetAllocationAsync(string id, long allocationMicros, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        if (await FindAsync(connection, id, cancellationToken) is not { } budget)
        {
            return (AllocationOutcome.NotFound, null);
        }

        if (allocationMicros < budget.SpentMicros)
        {
            return (AllocationOutcome.BelowSpent, budget);
        }

        await connection.ExecuteAsync(
            "UPDATE budgets SET allocation_micros = @allocation WHERE id = @id;", cancellationToken, ("@allocation", allocationMicros), ("@id", id));
        await transaction.CommitAsync();
        return (AllocationOutcome.Changed, budget with { AllocationMicros = allocationMicros });
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE budgets SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;", cancellationToken, ("@now", now.ToUnixMs()), ("@id", id)) == 1;
    }

    public async Task<bool> SetCredentialAsync(string id, string provider, byte[] sealedSecret, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE budgets SET provider = @provider, credential = @credential WHERE id = @id;",
            cancellationToken,
            ("@provider", provider),
            ("@credential", sealedSecret),
            ("@id", id)) == 1;
    }

    public async Task<bool> AddIcTokenAsync(IcTokenRecord token, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        return await connection.ExecuteAsync(
            """
            INSERT INTO budget_ic_tokens (budget_id, jti, agent_id, permissions, issued_at, expires_at, revoked_at)
            SELECT @budget_id, @jti, @agent_id, @permissions, @issued_at, @expires_at, NULL WHERE EXISTS (SELECT 1 FROM budgets WHERE id = @budget_id);
            """,
            cancellationToken,
            ("@budget_id", token.BudgetId),
            ("@jti", token.Jti),
            ("@agent_id", token.AgentId),
            ("@permissions", string.Join(' ', token.Permissions)),
            ("@issued_at", token.IssuedAt.ToUnixMs()),
            ("@expires_at", token.ExpiresAt.ToUnixMs())) == 1;
    }

    public async Task<IcTokenRecord?> FindIcTokenAsync(string budgetId, string jti, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        return await FindIcTokenAsync(connection, budgetId, jti, cancellationToken);
    }

    public async Task<bool> RevokeIcTokenAsync(string budgetId, string jti, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        if (await connection.ExecuteAsync(
            "UPDATE budget_ic_tokens SET revoked_at = @now WHERE budget_id = @budget_id AND jti = @jti AND revoked_at IS NULL;",
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@budget_id", budgetId),
            ("@jti", jti)) == 0)
        {
            return false;
        }

        // Its open leases can never be used again: their unspent parts go back to the budget in the same step.
        var budget = await FindAsync(connection, budgetId, cancellationToken);
        var open = await connection.QueryAsync(
            $"SELECT {LeaseColumns} FROM budget_leases WHERE budget_id = @budget_id AND jti = @jti AND closed_at IS NULL;",
            ReadLease,
            cancellationToken,
            ("@budget_id", budgetId),
            ("@jti", jti));
        foreach (var lease in open)
        {
            var (after, closed, _) = BudgetLedger.Close(budget!, lease, now, BudgetLedger.ReasonRevoked);
            budget = after;
            await WriteLeaseAsync(connection, closed, cancellationToken);
        }

        if (open.Count > 0)
        {
            await WriteCountersAsync(connection, budget!, cancellationToken);
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task<LeaseGrantResult> GrantAsync(LeaseGrantRequest request, CancellationToken cancellationToken)
    {
        var caller = request.Caller;
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var budget = await FindAsync(connection, caller.BudgetId, cancellationToken);
        var token = await FindIcTokenAsync(connection, caller.BudgetId, caller.Jti, cancellationToken);
        if (BudgetLedger.CheckAccess(budget, token, caller) is var denied && denied != BudgetRefusal.None)
        {
            return LeaseGrantResult.Refused(denied);
        }

        var previous = request.PreviousLeaseId is { } previousId ? await FindLeaseAsync(connection, previousId, cancellationToken) : null;
        var decision = BudgetLedger.Grant(budget!, token!, previous, request);
        if (decision.Refusal != BudgetRefusal.None)
        {
            return LeaseGrantResult.Refused(decision.Refusal);
        }

        if (decision.ClosedPrevious is { } closed)
        {
            await WriteLeaseAsync(connection, closed, cancellationToken);
        }

        await connection.ExecuteAsync(
            $"""
            INSERT INTO budget_leases ({LeaseColumns})
            VALUES (@id, @budget_id, @agent_id, @jti, @granted, 0, 0, @created_at, @expires_at, NULL, NULL);
            """,
            cancellationToken,
            ("@id", decision.NewLease!.Id),
            ("@budget_id", decision.NewLease.BudgetId),
            ("@agent_id", decision.NewLease.AgentId),
            ("@jti", decision.NewLease.Jti),
            ("@granted", decision.NewLease.GrantedMicros),
            ("@created_at", decision.NewLease.CreatedAt.ToUnixMs()),
            ("@expires_at", decision.NewLease.ExpiresAt.ToUnixMs()));
        await WriteCountersAsync(connection, decision.Budget!, cancellationToken);
        var credential = await connection.QuerySingleAsync(
            "SELECT credential FROM budgets WHERE id = @id AND credential IS NOT NULL;", r => (byte[])r.GetValue(0), cancellationToken, ("@id", caller.BudgetId));
        await transaction.CommitAsync();
        return new LeaseGrantResult(BudgetRefusal.None, decision.NewLease, decision.GrantedMicros, decision.CarriedMicros, decision.Budget)
        {
            Provider = credential is null ? null : budget!.Provider,
            SealedCredential = credential,
        };
    }

    public async Task<LeaseReportResult> ReportAsync(LeaseReportRequest request, CancellationToken cancellationToken)
    {
        var mine = new PendingReport(request);
        pendingReports.Enqueue(mine);
        // Not cancellable once queued: the report may already be in a batch another caller is committing.
        await using (var connection = await database.WriteAsync(CancellationToken.None))
        {
            // Whoever holds the write connection commits every report waiting, this one included unless an earlier
            // holder already did (it answers its batch before it lets the connection go).
            if (!mine.Result.Task.IsCompleted)
            {
                await WriteReportsAsync(connection);
            }
        }

        return await mine.Result.Task;
    }

    /// <summary>
    /// Reports that arrive together are committed together (as the metering of verifies is): one BEGIN IMMEDIATE
    /// transaction for the batch, each report read, decided and written in turn, so each sees the ones before it and the
    /// guarantees are those of one transaction per report. Each report reads and decides before it writes; one whose
    /// decision throws fails alone, having written nothing, and only a failure of the database fails the batch.
    /// </summary>
    private async Task WriteReportsAsync(SqliteConnectionLease connection)
    {
        var batch = new List<PendingReport>();
        while (batch.Count < MaxReportBatch && pendingReports.TryDequeue(out var next))
        {
            batch.Add(next);
        }

        var results = new LeaseReportResult?[batch.Count];
        var failures = new Exception?[batch.Count];
        try
        {
            await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, CancellationToken.None);
            for (var i = 0; i < batch.Count; i++)
            {
                try
                {
                    results[i] = await ReportInTransactionAsync(connection, batch[i].Request, CancellationToken.None);
                }
                catch (Exception e) when (e is not SqliteException)
                {
                    failures[i] = e;
                }
            }

            await transaction.CommitAsync();
        }
        catch (Exception e)
        {
            foreach (var report in batch)
            {
                report.Result.TrySetException(e);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                batch[i].Result.TrySetException(failure);
            }
            else
            {
                batch[i].Result.TrySetResult(results[i]!);
            }
        }
    }

    private static async Task<LeaseReportResult> ReportInTransactionAsync(SqliteConnectionLease connection, LeaseReportRequest request, CancellationToken cancellationToken)
    {
        var caller = request.Caller;
        var budget = await FindAsync(connection, caller.BudgetId, cancellationToken);
        if (BudgetLedger.CheckAccess(budget, await FindIcTokenAsync(connection, caller.BudgetId, caller.Jti, cancellationToken), caller) is var denied
            && denied != BudgetRefusal.None)
        {
            return LeaseReportResult.Refused(denied);
        }

        if (await FindLeaseAsync(connection, request.LeaseId, cancellationToken) is not { } lease || lease.BudgetId != caller.BudgetId || lease.Jti != caller.Jti)
        {
            return LeaseReportResult.Refused(BudgetRefusal.LeaseNotFound);
        }

        var earlier = await connection.QueryAsync(
            "SELECT overrun FROM budget_reports WHERE budget_id = @budget_id AND report_id = @report_id;",
            r => r.GetInt64(0) != 0,
            cancellationToken,
            ("@budget_id", caller.BudgetId),
            ("@report_id", request.ReportId));
        if (earlier.Count > 0)
        {
            // A retry of a report already counted: the same answer as then, counted nothing more.
            return new LeaseReportResult(BudgetRefusal.None, lease.IsOpen ? lease.UnspentMicros : 0, budget!.AvailableMicros, earlier[0], Duplicate: true);
        }

        var decision = BudgetLedger.Report(budget!, lease, request.Tokens, request.CostMicros);
        await WriteLeaseAsync(connection, decision.Lease, cancellationToken);
        await WriteCountersAsync(connection, decision.Budget, cancellationToken);
        await connection.ExecuteAsync(
            """
            INSERT INTO budget_reports (budget_id, report_id, lease_id, cost_micros, tokens, overrun, at)
            VALUES (@budget_id, @report_id, @lease_id, @cost, @tokens, @overrun, @at);
            INSERT INTO budget_agents (budget_id, agent_id, spent_micros, spent_tokens) VALUES (@budget_id, @agent_id, @cost, @tokens)
            ON CONFLICT (budget_id, agent_id) DO UPDATE SET spent_micros = spent_micros + @cost, spent_tokens = spent_tokens + @tokens;
            """,
            cancellationToken,
            ("@budget_id", caller.BudgetId),
            ("@report_id", request.ReportId),
            ("@lease_id", lease.Id),
            ("@cost", request.CostMicros),
            ("@tokens", request.Tokens),
            ("@overrun", decision.Overrun ? 1 : 0),
            ("@at", caller.Now.ToUnixMs()),
            ("@agent_id", lease.AgentId));
        return new LeaseReportResult(BudgetRefusal.None, decision.LeaseRemainingMicros, decision.Budget.AvailableMicros, decision.Overrun, Duplicate: false);
    }

    private sealed record PendingReport(LeaseReportRequest Request)
    {
        public TaskCompletionSource<LeaseReportResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async Task<LeaseCloseResult> CloseAsync(IcCaller caller, string leaseId, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var budget = await FindAsync(connection, caller.BudgetId, cancellationToken);
        if (BudgetLedger.CheckAccess(budget, await FindIcTokenAsync(connection, caller.BudgetId, caller.Jti, cancellationToken), caller) is var denied
            && denied != BudgetRefusal.None)
        {
            return LeaseCloseResult.Refused(denied);
        }

        if (await FindLeaseAsync(connection, leaseId, cancellationToken) is not { } lease || lease.BudgetId != caller.BudgetId || lease.Jti != caller.Jti)
        {
            return LeaseCloseResult.Refused(BudgetRefusal.LeaseNotFound);
        }

        if (!lease.IsOpen)
        {
            return LeaseCloseResult.Refused(BudgetRefusal.LeaseClosed);
        }

        var (after, closed, returned) = BudgetLedger.Close(budget!, lease, caller.Now, BudgetLedger.ReasonClosed);
        await WriteLeaseAsync(connection, closed, cancellationToken);
        await WriteCountersAsync(connection, after, cancellationToken);
        await transaction.CommitAsync();
        return new LeaseCloseResult(BudgetRefusal.None, returned, after.AvailableMicros);
    }

    public async Task<int> ExpireLeasesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var expired = await connection.QueryAsync(
            $"SELECT {LeaseColumns} FROM budget_leases WHERE closed_at IS NULL AND expires_at <= @now ORDER BY expires_at LIMIT @batch;",
            ReadLease,
            cancellationToken,
            ("@now", now.ToUnixMs()),
            ("@batch", batch));
        foreach (var group in expired.GroupBy(l => l.BudgetId))
        {
            var budget = await FindAsync(connection, group.Key, cancellationToken);
            if (budget is null)
            {
                continue;
            }

            foreach (var lease in group)
            {
                var (after, closed, _) = BudgetLedger.Close(budget, lease, now, BudgetLedger.ReasonExpired);
                budget = after;
                await WriteLeaseAsync(connection, closed, cancellationToken);
            }

            await WriteCountersAsync(connection, budget, cancellationToken);
        }

        await transaction.CommitAsync();
        return expired.Count;
    }

    public async Task<int> PurgeAsync(DateTimeOffset threshold, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var ids = await connection.QueryAsync(
            $"SELECT id FROM budgets WHERE {EndsAt} < @threshold LIMIT @batch;", r => r.GetString(0), cancellationToken, ("@threshold", threshold.ToUnixMs()), ("@batch", batch));
        foreach (var id in ids)
        {
            await connection.ExecuteAsync(
                """
                DELETE FROM budget_reports WHERE budget_id = @id;
                DELETE FROM budget_agents WHERE budget_id = @id;
                DELETE FROM budget_leases WHERE budget_id = @id;
                DELETE FROM budget_ic_tokens WHERE budget_id = @id;
                DELETE FROM budgets WHERE id = @id;
                """,
                cancellationToken,
                ("@id", id));
        }

        await transaction.CommitAsync();
        return ids.Count;
    }

    private static Task<Budget?> FindAsync(SqliteConnectionLease connection, string id, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync($"SELECT {BudgetColumns} FROM budgets WHERE id = @id;", ReadBudget, cancellationToken, ("@id", id));

    private static Task<Lease?> FindLeaseAsync(SqliteConnectionLease connection, string id, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync($"SELECT {LeaseColumns} FROM budget_leases WHERE id = @id;", ReadLease, cancellationToken, ("@id", id));

    private static Task<IcTokenRecord?> FindIcTokenAsync(SqliteConnectionLease connection, string budgetId, string jti, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync(
            "SELECT budget_id, jti, agent_id, permissions, issued_at, expires_at, revoked_at FROM budget_ic_tokens WHERE budget_id = @budget_id AND jti = @jti;",
            r => new IcTokenRecord
            {
                BudgetId = r.GetString(0),
                Jti = r.GetString(1),
                AgentId = r.GetString(2),
                Permissions = r.GetString(3).Split(' ', StringSplitOptions.RemoveEmptyEntries),
                IssuedAt = r.GetTime(4),
                ExpiresAt = r.GetTime(5),
                RevokedAt = r.GetTimeOrNull(6),
            },
            cancellationToken,
            ("@budget_id", budgetId),
            ("@jti", jti));

    private static Task WriteCountersAsync(SqliteConnectionLease connection, Budget budget, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(
            """
            UPDATE budgets SET spent_micros = @spent, spent_tokens = @spent_tokens, granted_micros = @granted, reserved_micros = @reserved,
                open_leases = @open WHERE id = @id;
            """,
            cancellationToken,
            ("@spent", budget.SpentMicros),
            ("@spent_tokens", budget.SpentTokens),
            ("@granted", budget.GrantedMicros),
            ("@reserved", budget.ReservedMicros),
            ("@open", budget.OpenLeases),
            ("@id", budget.Id));

    private static Task WriteLeaseAsync(SqliteConnectionLease connection, Lease lease, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(
            """
            UPDATE budget_leases SET spent_micros = @spent, spent_tokens = @tokens, closed_at = @closed_at, closed_reason = @reason WHERE id = @id;
            """,
            cancellationToken,
            ("@spent", lease.SpentMicros),
            ("@tokens", lease.SpentTokens),
            ("@closed_at", lease.ClosedAt.ToDb()),
            ("@reason", lease.ClosedReason),
            ("@id", lease.Id));

    private static Budget ReadBudget(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        UserId = r.GetString(1),
        Name = r.GetString(2),
        AllocationMicros = r.GetInt64(3),
        LlmTokens = r.IsDBNull(4) ? null : r.GetInt64(4),
        SpentMicros = r.GetInt64(5),
        SpentTokens = r.GetInt64(6),
        GrantedMicros = r.GetInt64(7),
        ReservedMicros = r.GetInt64(8),
        OpenLeases = r.GetInt32(9),
        CreatedAt = r.GetTime(10),
        ExpiresAt = r.GetTime(11),
        RevokedAt = r.GetTimeOrNull(12),
        Provider = r.GetStringOrNull(13),
    };

    private static Lease ReadLease(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        BudgetId = r.GetString(1),
        AgentId = r.GetString(2),
        Jti = r.GetString(3),
        GrantedMicros = r.GetInt64(4),
        SpentMicros = r.GetInt64(5),
        SpentTokens = r.GetInt64(6),
        CreatedAt = r.GetTime(7),
        ExpiresAt = r.GetTime(8),
        ClosedAt = r.GetTimeOrNull(9),
        ClosedReason = r.GetStringOrNull(10),
    };
}
