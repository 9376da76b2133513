using IronAuth.Core.Budgets;
using IronAuth.Core.Limits;
using SQLitePCL;

namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// Budgets in <c>budgets</c> with their IC tokens, leases, reports and per-agent spend. Every call that moves money runs
/// in one BEGIN IMMEDIATE transaction, which holds the database's write lock from the first read to the commit, across
/// processes: the IC token and budget checks, the read of the counters, <see cref="BudgetLedger"/>'s decision and the
/// writes cannot interleave with any other grant, report or revocation, so concurrent grants never add up to more than
/// the allocation and a revocation stops every call that commits after it.
/// </summary>
public sealed class SqliteBudgetStore : IBudgetStore, IAsyncDisposable
{
    private readonly SqliteDatabase database;
    private readonly KnownRows known = new();
    private readonly SqliteBatchWriter<LeaseReportRequest, LeaseReportResult> reports;

    public SqliteBudgetStore(SqliteDatabase database)
    {
        this.database = database;
        reports = new(database, known, Report, "IronAuth SQLite reports");
    }

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
        return Find(connection, id);
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
            SELECT r.budget_id, b.name, b.user_id, l.agent_id, COUNT(*), TOTAL(r.tokens), TOTAL(r.cost_micros)
            FROM budget_reports r INDEXED BY ix_budget_reports_at
            JOIN budgets b ON b.id = r.budget_id JOIN budget_leases l ON l.id = r.lease_id
            WHERE r.at >= @from AND r.at < @to AND (@owner IS NULL OR b.user_id = @owner)
            GROUP BY r.budget_id, l.agent_id;
            """,
            r => new BudgetSpend(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4), Sum(r.GetDouble(5)), Sum(r.GetDouble(6))),
            cancellationToken,
            ("@from", Midnight(from).ToUnixMs()),
            // The end of `to` in milliseconds, not the midnight after it: there is none after 9999-12-31.
            ("@to", Midnight(to).ToUnixMs() + 86_400_000),
            ("@owner", ownerId));
    }

    private static DateTimeOffset Midnight(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    // SQLite's SUM raises "integer overflow" past 2^63 and would fail the whole report for every reader; TOTAL is a
    // floating sum (exact below 2^53 micros, $9 billion), pinned here at long.MaxValue like every other spend counter.
    private static long Sum(double total) => total >= long.MaxValue ? long.MaxValue : (long)total;

    public async Task<Page<Budget>> ListAsync(string? userId, string? position, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.ReadAsync(cancellationToken);
        var rows = connection.Statement(
            $"""
            SELECT {BudgetColumns} FROM budgets
            WHERE (@user_id IS NULL OR user_id = @user_id) AND (@after IS NULL OR id > @after)
            ORDER BY id LIMIT @limit;
            """)
            .Bind("@user_id", userId)
            .Bind("@after", position)
            .Bind("@limit", limit + 1)
            .All(ReadBudget);
        return Page<Budget>.FromOverfetch(rows, limit, b => b.Id);
    }

    public async Task<(AllocationOutcome Outcome, Budget? Budget)> SetAllocationAsync(string id, long allocationMicros, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        if (Find(connection, id) is not { } budget)
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
        return FindIcToken(connection, budgetId, jti);
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
        var budget = Find(connection, budgetId);
        var open = connection.Statement($"SELECT {LeaseColumns} FROM budget_leases WHERE budget_id = @budget_id AND jti = @jti AND closed_at IS NULL;")
            .Bind("@budget_id", budgetId)
            .Bind("@jti", jti)
            .All(ReadLease);
        foreach (var lease in open)
        {
            var (after, closed, _) = BudgetLedger.Close(budget!, lease, now, BudgetLedger.ReasonRevoked);
            budget = after;
            WriteLease(connection, closed);
        }

        if (open.Count > 0)
        {
            WriteCounters(connection, budget!);
        }

        await transaction.CommitAsync();
        return true;
    }

    public async Task<LeaseGrantResult> GrantAsync(LeaseGrantRequest request, CancellationToken cancellationToken)
    {
        var caller = request.Caller;
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var budget = Find(connection, caller.BudgetId);
        var token = FindIcToken(connection, caller.BudgetId, caller.Jti);
        if (BudgetLedger.CheckAccess(budget, token, caller) is var denied && denied != BudgetRefusal.None)
        {
            return LeaseGrantResult.Refused(denied);
        }

        var previous = request.PreviousLeaseId is { } previousId ? FindLease(connection, previousId) : null;
        var decision = BudgetLedger.Grant(budget!, token!, previous, request);
        if (decision.Refusal != BudgetRefusal.None)
        {
            return LeaseGrantResult.Refused(decision.Refusal);
        }

        if (decision.ClosedPrevious is { } closed)
        {
            WriteLease(connection, closed);
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
        WriteCounters(connection, decision.Budget!);
        var credential = await connection.QuerySingleAsync(
            "SELECT credential FROM budgets WHERE id = @id AND credential IS NOT NULL;", r => (byte[])r.GetValue(0), cancellationToken, ("@id", caller.BudgetId));
        await transaction.CommitAsync();
        return new LeaseGrantResult(BudgetRefusal.None, decision.NewLease, decision.GrantedMicros, decision.CarriedMicros, decision.Budget)
        {
            Provider = credential is null ? null : budget!.Provider,
            SealedCredential = credential,
        };
    }

    /// <summary>
    /// Reports that arrive together are committed together (as the metering of verifies is, by a
    /// <see cref="SqliteBatchWriter{TRequest, TResult}"/>): each report is read, decided and written in turn inside the
    /// batch's transaction, so each sees the ones before it and the guarantees are those of one transaction per report.
    /// Not cancellable once queued: the report may already be in the batch being committed.
    /// </summary>
    public Task<LeaseReportResult> ReportAsync(LeaseReportRequest request, CancellationToken cancellationToken) =>
        reports.EnqueueAsync(request, CancellationToken.None);

    public ValueTask DisposeAsync() => reports.DisposeAsync();

    private LeaseReportResult Report(SqliteConnectionLease connection, LeaseReportRequest request)
    {
        var caller = request.Caller;
        var budget = known.Budget(connection, caller.BudgetId);
        if (BudgetLedger.CheckAccess(budget, known.IcToken(connection, caller.BudgetId, caller.Jti), caller) is var denied && denied != BudgetRefusal.None)
        {
            return LeaseReportResult.Refused(denied);
        }

        if (known.Lease(connection, request.LeaseId) is not { } lease || lease.BudgetId != caller.BudgetId || lease.Jti != caller.Jti)
        {
            return LeaseReportResult.Refused(BudgetRefusal.LeaseNotFound);
        }

        // Looked up inside the batch's transaction (report rows are written as each report is decided), so a repeat in
        // the same batch sees the first.
        var earlier = connection.Statement(SelectReport)
            .Bind("@budget_id", caller.BudgetId)
            .Bind("@report_id", request.ReportId)
            .Single(r => ((bool Overrun, string LeaseId)?)(raw.sqlite3_column_int64(r, 0) != 0, Text(r, 1)));
        if (earlier is var (overrun, earlierLease))
        {
            return BudgetLedger.Repeated(budget!, lease, earlierLease, overrun, caller.Now);
        }

        var decision = BudgetLedger.Report(budget!, lease, request.Tokens, request.CostMicros, caller.Now);
        connection.Statement(InsertReport)
            .Bind("@budget_id", caller.BudgetId)
            .Bind("@report_id", request.ReportId)
            .Bind("@lease_id", lease.Id)
            .Bind("@cost", request.CostMicros)
            .Bind("@tokens", request.Tokens)
            .Bind("@overrun", decision.Overrun ? 1 : 0)
            .Bind("@at", caller.Now.ToUnixMs())
            .Execute();
        known.Decided(decision, lease.AgentId, request.Tokens, request.CostMicros);
        return new LeaseReportResult(BudgetRefusal.None, decision.LeaseRemainingMicros, decision.Budget.AvailableMicros, decision.Overrun, Duplicate: false);
    }

    /// <summary>
    /// What the report writer last read or wrote of budgets, IC tokens and leases (see <see cref="SqliteRowCache"/> for
    /// when it forgets: grants, closes, revocations and allocation changes take the write connection, so a revocation or
    /// a new allocation is seen by the first report that commits after it, exactly as if every row were read). The
    /// report rows themselves are written as each is decided, for the report_id check.
    /// </summary>
    private sealed class KnownRows : SqliteRowCache
    {
        private readonly Dictionary<string, Budget?> budgets = new(StringComparer.Ordinal);
        private readonly Dictionary<(string BudgetId, string Jti), IcTokenRecord?> icTokens = [];
        private readonly Dictionary<string, Lease?> leases = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Budget> unwrittenBudgets = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Lease> unwrittenLeases = new(StringComparer.Ordinal);
        private readonly Dictionary<(string BudgetId, string AgentId), (long Cost, long Tokens)> unwrittenAgents = [];

        protected override int Count => budgets.Count + icTokens.Count + leases.Count;

        public override void Clear()
        {
            budgets.Clear();
            icTokens.Clear();
            leases.Clear();
            unwrittenBudgets.Clear();
            unwrittenLeases.Clear();
            unwrittenAgents.Clear();
        }

        public Budget? Budget(SqliteConnectionLease connection, string id)
        {
            if (!budgets.TryGetValue(id, out var budget))
            {
                budget = Find(connection, id);
                budgets[id] = budget;
            }

            return budget;
        }

        public IcTokenRecord? IcToken(SqliteConnectionLease connection, string budgetId, string jti)
        {
            if (!icTokens.TryGetValue((budgetId, jti), out var token))
            {
                token = FindIcToken(connection, budgetId, jti);
                icTokens[(budgetId, jti)] = token;
            }

            return token;
        }

        public Lease? Lease(SqliteConnectionLease connection, string id)
        {
            if (!leases.TryGetValue(id, out var lease))
            {
                lease = FindLease(connection, id);
                leases[id] = lease;
            }

            return lease;
        }

        public void Decided(BudgetLedger.ReportDecision decision, string agentId, long tokens, long costMicros)
        {
            budgets[decision.Budget.Id] = decision.Budget;
            unwrittenBudgets[decision.Budget.Id] = decision.Budget;
            leases[decision.Lease.Id] = decision.Lease;
            unwrittenLeases[decision.Lease.Id] = decision.Lease;
            var key = (decision.Budget.Id, agentId);
            var (cost, sum) = unwrittenAgents.GetValueOrDefault(key);
            unwrittenAgents[key] = (QuotaRules.Saturating(cost, costMicros), QuotaRules.Saturating(sum, tokens));
        }

        public override void WriteDecided(SqliteConnectionLease connection)
        {
            foreach (var lease in unwrittenLeases.Values)
            {
                WriteLease(connection, lease);
            }

            foreach (var budget in unwrittenBudgets.Values)
            {
                WriteCounters(connection, budget);
            }

            foreach (var ((budgetId, agentId), (cost, tokens)) in unwrittenAgents)
            {
                connection.Statement(UpsertAgent).Bind("@budget_id", budgetId).Bind("@agent_id", agentId).Bind("@cost", cost).Bind("@tokens", tokens).Execute();
            }

            unwrittenBudgets.Clear();
            unwrittenLeases.Clear();
            unwrittenAgents.Clear();
        }
    }

    public async Task<LeaseCloseResult> CloseAsync(IcCaller caller, string leaseId, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var budget = Find(connection, caller.BudgetId);
        if (BudgetLedger.CheckAccess(budget, FindIcToken(connection, caller.BudgetId, caller.Jti), caller) is var denied
            && denied != BudgetRefusal.None)
        {
            return LeaseCloseResult.Refused(denied);
        }

        if (FindLease(connection, leaseId) is not { } lease || lease.BudgetId != caller.BudgetId || lease.Jti != caller.Jti)
        {
            return LeaseCloseResult.Refused(BudgetRefusal.LeaseNotFound);
        }

        if (!lease.IsOpenAt(caller.Now))
        {
            return LeaseCloseResult.Refused(BudgetRefusal.LeaseClosed);
        }

        var (after, closed, returned) = BudgetLedger.Close(budget!, lease, caller.Now, BudgetLedger.ReasonClosed);
        WriteLease(connection, closed);
        WriteCounters(connection, after);
        await transaction.CommitAsync();
        return new LeaseCloseResult(BudgetRefusal.None, returned, after.AvailableMicros);
    }

    public async Task<int> ExpireLeasesAsync(DateTimeOffset now, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.WriteAsync(cancellationToken);
        await using var transaction = await SqliteWriteTransaction.BeginAsync(connection, cancellationToken);
        var expired = connection.Statement($"SELECT {LeaseColumns} FROM budget_leases WHERE closed_at IS NULL AND expires_at <= @now ORDER BY expires_at LIMIT @batch;")
            .Bind("@now", now.ToUnixMs())
            .Bind("@batch", batch)
            .All(ReadLease);
        foreach (var group in expired.GroupBy(l => l.BudgetId))
        {
            var budget = Find(connection, group.Key);
            if (budget is null)
            {
                continue;
            }

            foreach (var lease in group)
            {
                var (after, closed, _) = BudgetLedger.Close(budget, lease, now, BudgetLedger.ReasonExpired);
                budget = after;
                WriteLease(connection, closed);
            }

            WriteCounters(connection, budget);
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

    // The single-row reads and writes of the money-moving calls are prepared once per connection and run through
    // SQLite's own API (SqliteStatement): a report is mostly these, and Microsoft.Data.Sqlite's per-call work cost as
    // much as SQLite's own.
    private const string SelectBudget = $"SELECT {BudgetColumns} FROM budgets WHERE id = @id;";

    private const string SelectLease = $"SELECT {LeaseColumns} FROM budget_leases WHERE id = @id;";

    private const string SelectIcToken =
        "SELECT budget_id, jti, agent_id, permissions, issued_at, expires_at, revoked_at FROM budget_ic_tokens WHERE budget_id = @budget_id AND jti = @jti;";

    private const string SelectReport = "SELECT overrun, lease_id FROM budget_reports WHERE budget_id = @budget_id AND report_id = @report_id;";

    private const string InsertReport = """
        INSERT INTO budget_reports (budget_id, report_id, lease_id, cost_micros, tokens, overrun, at)
        VALUES (@budget_id, @report_id, @lease_id, @cost, @tokens, @overrun, @at);
        """;

    private const string UpsertAgent = """
        INSERT INTO budget_agents (budget_id, agent_id, spent_micros, spent_tokens) VALUES (@budget_id, @agent_id, @cost, @tokens)
        ON CONFLICT (budget_id, agent_id) DO UPDATE SET
            spent_micros = CASE WHEN spent_micros > 9223372036854775807 - @cost THEN 9223372036854775807 ELSE spent_micros + @cost END,
            spent_tokens = CASE WHEN spent_tokens > 9223372036854775807 - @tokens THEN 9223372036854775807 ELSE spent_tokens + @tokens END;
        """;

    private const string UpdateCounters = """
        UPDATE budgets SET spent_micros = @spent, spent_tokens = @spent_tokens, granted_micros = @granted, reserved_micros = @reserved,
            open_leases = @open WHERE id = @id;
        """;

    private const string UpdateLease =
        "UPDATE budget_leases SET spent_micros = @spent, spent_tokens = @tokens, closed_at = @closed_at, closed_reason = @reason WHERE id = @id;";

    private static Budget? Find(SqliteConnectionLease connection, string id) =>
        connection.Statement(SelectBudget).Bind("@id", id).Single(ReadBudget);

    private static Lease? FindLease(SqliteConnectionLease connection, string id) =>
        connection.Statement(SelectLease).Bind("@id", id).Single(ReadLease);

    private static IcTokenRecord? FindIcToken(SqliteConnectionLease connection, string budgetId, string jti) =>
        connection.Statement(SelectIcToken).Bind("@budget_id", budgetId).Bind("@jti", jti).Single(r => new IcTokenRecord
        {
            BudgetId = Text(r, 0),
            Jti = Text(r, 1),
            AgentId = Text(r, 2),
            Permissions = Text(r, 3).Split(' ', StringSplitOptions.RemoveEmptyEntries),
            IssuedAt = Time(r, 4),
            ExpiresAt = Time(r, 5),
            RevokedAt = TimeOrNull(r, 6),
        });

    private static void WriteCounters(SqliteConnectionLease connection, Budget budget) =>
        connection.Statement(UpdateCounters)
            .Bind("@spent", budget.SpentMicros)
            .Bind("@spent_tokens", budget.SpentTokens)
            .Bind("@granted", budget.GrantedMicros)
            .Bind("@reserved", budget.ReservedMicros)
            .Bind("@open", budget.OpenLeases)
            .Bind("@id", budget.Id)
            .Execute();

    private static void WriteLease(SqliteConnectionLease connection, Lease lease) =>
        connection.Statement(UpdateLease)
            .Bind("@spent", lease.SpentMicros)
            .Bind("@tokens", lease.SpentTokens)
            .Bind("@closed_at", lease.ClosedAt?.ToUnixMs())
            .Bind("@reason", lease.ClosedReason)
            .Bind("@id", lease.Id)
            .Execute();

    private static string Text(sqlite3_stmt row, int column) => raw.sqlite3_column_text(row, column).utf8_to_string();

    private static string? TextOrNull(sqlite3_stmt row, int column) =>
        raw.sqlite3_column_type(row, column) == raw.SQLITE_NULL ? null : Text(row, column);

    private static DateTimeOffset Time(sqlite3_stmt row, int column) => DateTimeOffset.FromUnixTimeMilliseconds(raw.sqlite3_column_int64(row, column));

    private static DateTimeOffset? TimeOrNull(sqlite3_stmt row, int column) =>
        raw.sqlite3_column_type(row, column) == raw.SQLITE_NULL ? null : Time(row, column);

    private static Budget ReadBudget(sqlite3_stmt r) => new()
    {
        Id = Text(r, 0),
        UserId = Text(r, 1),
        Name = Text(r, 2),
        AllocationMicros = raw.sqlite3_column_int64(r, 3),
        LlmTokens = raw.sqlite3_column_type(r, 4) == raw.SQLITE_NULL ? null : raw.sqlite3_column_int64(r, 4),
        SpentMicros = raw.sqlite3_column_int64(r, 5),
        SpentTokens = raw.sqlite3_column_int64(r, 6),
        GrantedMicros = raw.sqlite3_column_int64(r, 7),
        ReservedMicros = raw.sqlite3_column_int64(r, 8),
        OpenLeases = raw.sqlite3_column_int(r, 9),
        CreatedAt = Time(r, 10),
        ExpiresAt = Time(r, 11),
        RevokedAt = TimeOrNull(r, 12),
        Provider = TextOrNull(r, 13),
    };

    private static Lease ReadLease(sqlite3_stmt r) => new()
    {
        Id = Text(r, 0),
        BudgetId = Text(r, 1),
        AgentId = Text(r, 2),
        Jti = Text(r, 3),
        GrantedMicros = raw.sqlite3_column_int64(r, 4),
        SpentMicros = raw.sqlite3_column_int64(r, 5),
        SpentTokens = raw.sqlite3_column_int64(r, 6),
        CreatedAt = Time(r, 7),
        ExpiresAt = Time(r, 8),
        ClosedAt = TimeOrNull(r, 9),
        ClosedReason = TextOrNull(r, 10),
    };
}
