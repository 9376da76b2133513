using System.Collections.Concurrent;
using System.Globalization;
using Azure;
using Azure.Data.Tables;
using IronAuth.Core.Configuration;
using IronAuth.Core.Limits;
using Microsoft.Extensions.Options;

namespace IronAuth.Core.Storage.Tables;

/// <summary>
/// Rate buckets, usage counters and last use of API tokens in the Metering table. Partition = token id (or
/// bucket key); the <c>limits</c> entity holds the bucket, the counters of its current UTC day and the
/// last use, so a verify's take-and-count is one ETag-conditional write. When the first use of a new day
/// arrives, the same entity-group transaction stores the finished day as a <c>day:{yyyyMMdd}</c> row of the
/// same partition and starts the counters at zero: quotas never depend on maintenance. Usage of a day that
/// is already history (recorded after the fact) goes to that day's row.
/// <para>
/// Round trips: each key has an in-process queue. The first caller drains it: it applies every queued use,
/// in order, to the last state it knows and writes the result once, conditional on that state's ETag, then
/// completes all of them. Concurrent uses in one process therefore share one write and never race each
/// other; only another process's write makes a 412, after which the state is read again and the whole
/// batch decided again (with jittered back-off). While such races are recent the key is read before it is
/// written (two round trips) instead of written against a state that is probably stale (one that fails, then
/// two). Refusals need no write: other writers only ever take tokens and add usage, and refill depends on
/// time alone, so a bucket or quota that refuses on the known state refuses on the stored one too.
/// </para>
/// <para>
/// A batch holds the uses of every caller of one token, so a use whose arithmetic throws is undone (the state goes
/// back to before it) and fails alone; the rest of the batch is written as usual.
/// </para>
/// </summary>
public sealed class TableMeteringStore(TableStorage storage, IOptions<IronAuthOptions> options, TimeProvider time) : IMeteringStore, IRateBucketStore, IUsageStore
{
    internal const string LimitsKey = "limits";
    private const string DayPrefix = "day:";

    // Idempotency keys of counted uses: "req:{v:|u:}{request id}" rows beside the limits entity (see UsageReplay).
    internal const string RequestPrefix = "req:";

    // A write with keys is one entity-group transaction of at most 100 actions: the limits entity, a history row
    // and at most this many keys.
    private const int MaxKeysPerWrite = 98;
    private const string Operation = "Meter token use";

    // One write carries at most this many queued uses; the rest go in the next.
    private const int MaxBatch = 100;

    // Keys whose state is kept in process; beyond it, idle ones are dropped (and read again when next used).
    private const int MaxKeys = 20_000;

    // After a lost race, read before writing for this long (real time: pacing against other processes).
    private const long ReadFirstMilliseconds = 10_000;

    private static readonly Quota NoCap = new(0, 0, 0);

    private readonly ConcurrentDictionary<string, Meter> meters = new(StringComparer.Ordinal);

    private TableClient Table => storage.Metering;

    public async Task<MeteredUse> TakeAndCountAsync(
        string tokenId, EffectiveLimits limits, UsageDelta delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var result = await SubmitAsync(
            tokenId, new Use(new Take(limits.Burst, limits.RequestsPerSecond, now), new Count(UsageDay.DayOf(now), delta, limits.Quota) { At = now }, now), cancellationToken);
        return new MeteredUse(result.Bucket!, result.Usage) { Replayed = result.Replayed };
    }

    public async Task<BucketTake> TakeAsync(string key, int capacity, double refillPerSecond, DateTimeOffset now, CancellationToken cancellationToken) =>
        (await SubmitAsync(key, new Use(new Take(capacity, refillPerSecond, now), null, null), cancellationToken)).Bucket!;

    public async Task<UsageOutcome> TryAddAsync(string tokenId, DateOnly day, UsageDelta delta, Quota quota, CancellationToken cancellationToken) =>
        (await SubmitAsync(tokenId, new Use(null, new Count(day, delta, quota) { At = time.GetUtcNow() }, null), cancellationToken)).Usage!;

    public async Task<UsageDay> AddAsync(string tokenId, DateOnly day, UsageDelta delta, CancellationToken cancellationToken) =>
        (await SubmitAsync(tokenId, new Use(null, new Count(day, delta, NoCap, AfterTheFact: true) { At = time.GetUtcNow() }, null), cancellationToken)).Usage!.Day;

    public async Task<IReadOnlyList<UsageDay>> ListAsync(string tokenId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(tokenId))
        {
            return [];
        }

        // One range read of the partition: the history rows in range and the current day's entity.
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {tokenId} and (RowKey eq {LimitsKey} or (RowKey ge {DayPrefix + DayKey(from)} and RowKey le {DayPrefix + DayKey(to)}))");
        var days = new Dictionary<DateOnly, UsageDay>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            var row = entity.RowKey == LimitsKey ? MeterState.From(entity).Counters(tokenId) : HistoryRow(tokenId, entity);
            if (row is not null && row.Day >= from && row.Day <= to)
            {
                days[row.Day] = days.TryGetValue(row.Day, out var same)
                    ? QuotaRules.AddSaturating(same, new UsageDelta(row.Requests, row.Tokens, row.CostMicros))
                    : row;
            }
        }

        return [.. days.Values.OrderByDescending(d => d.Day)];
    }

    public async Task<IReadOnlyList<UsageBreakdownDay>> ListBreakdownAsync(string tokenId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(tokenId))
        {
            return [];
        }

        // The same range read as ListAsync: each day's breakdown is the Mix property of its row (or of the limits entity).
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {tokenId} and (RowKey eq {LimitsKey} or (RowKey ge {DayPrefix + DayKey(from)} and RowKey le {DayPrefix + DayKey(to)}))");
        var days = new Dictionary<DateOnly, UsageBreakdown>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, select: ["RowKey", "Day", "Mix"], cancellationToken: cancellationToken))
        {
            DateOnly? day = entity.RowKey == LimitsKey
                ? entity.GetString("Day") is { } value ? ParseDay(value) : null
                : ParseDay(entity.RowKey[DayPrefix.Length..]);
            if (day is { } d && d >= from && d <= to && entity.GetString("Mix") is { } mix)
            {
                var parsed = UsageBreakdown.Parse(mix);
                if (days.TryGetValue(d, out var same))
                {
                    same.Merge(parsed);
                }
                else
                {
                    days[d] = parsed;
                }
            }
        }

        return [.. days.OrderByDescending(d => d.Key).SelectMany(d => d.Value.Days(tokenId, d.Key).OrderBy(e => e.Provider, StringComparer.Ordinal).ThenBy(e => e.Model, StringComparer.Ordinal))];
    }

    /// <summary>Records a use at <paramref name="at"/> unless a later one is known to be stored; nothing for an unknown key.</summary>
    internal Task TouchAsync(string key, DateTimeOffset at, CancellationToken cancellationToken) =>
        TableEntities.IsKeySafe(key) ? SubmitAsync(key, new Use(null, null, at), cancellationToken) : Task.CompletedTask;

    /// <summary>Remembers a limits entity this process just wrote (a new token's), so its first use needs no read.</summary>
    internal void Seed(string key, TableEntity entity)
    {
        var meter = meters.GetOrAdd(key, _ => new Meter());
        lock (meter)
        {
            if (!meter.Draining)
            {
                meter.Known = MeterState.From(entity);
            }
        }
    }

    /// <summary>The limits entity of a new API token: who owns it and under which digest, and nothing metered yet.</summary>
    internal static TableEntity NewTokenLimits(string tokenId, string ownerId, string digestHex) =>
        new(tokenId, LimitsKey) { ["OwnerId"] = ownerId, ["Digest"] = digestHex };

    private async Task<Outcome> SubmitAsync(string key, Use use, CancellationToken cancellationToken)
    {
        if (!TableEntities.IsKeySafe(key))
        {
            throw new ArgumentException("A bucket key or token id must be usable as a table key.", nameof(key));
        }

        use.CancellationToken = cancellationToken;
        var meter = meters.GetOrAdd(key, _ => new Meter());
        bool drain;
        lock (meter)
        {
            meter.Queue.Enqueue(use);
            drain = !meter.Draining;
            meter.Draining = true;
        }

        if (drain)
        {
            // Not awaited: the drain runs on until the queue is empty, serving later callers too, while this
            // caller returns as soon as its own use is decided.
            _ = DrainAsync(key, meter);
        }

        return await use.Completion.Task.WaitAsync(cancellationToken);
    }

    private async Task DrainAsync(string key, Meter meter)
    {
        while (true)
        {
            var batch = new List<Use>();
            var keys = 0;
            lock (meter)
            {
                while (batch.Count < MaxBatch && keys < MaxKeysPerWrite && meter.Queue.TryDequeue(out var next))
                {
                    if (next.CancellationToken.IsCancellationRequested)
                    {
                        // Decided by nobody: a caller that gave up is not metered.
                        next.Completion.TrySetCanceled(next.CancellationToken);
                    }
                    else
                    {
                        batch.Add(next);
                        keys += next.RequestKey is null ? 0 : 1;
                    }
                }

                if (batch.Count == 0)
                {
                    meter.Draining = false;
                    break;
                }
            }

            try
            {
                var later = await ProcessAsync(key, meter, batch);
                if (later.Count > 0)
                {
                    lock (meter)
                    {
                        // Uses that need a second day change in one write go first in the next one.
                        foreach (var use in meter.Queue)
                        {
                            later.Add(use);
                        }

                        meter.Queue.Clear();
                        later.ForEach(meter.Queue.Enqueue);
                    }
                }
            }
            catch (Exception e)
            {
                lock (meter)
                {
                    meter.Known = null;
                }

                batch.ForEach(use => use.Completion.TrySetException(e));
            }
        }

        if (meters.Count > MaxKeys)
        {
            foreach (var (idleKey, idle) in meters)
            {
                lock (idle)
                {
                    if (!idle.Draining && idle.Queue.Count == 0)
                    {
                        meters.TryRemove(idleKey, out _);
                    }
                }
            }
        }
    }

    /// <summary>Decides and writes one batch; returns the uses to retry in the next batch.</summary>
    private async Task<List<Use>> ProcessAsync(string key, Meter meter, List<Use> batch)
    {
        StoreMetrics.MeteringBatch(sqlite: false, batch.Count);
        Dictionary<DateOnly, TableEntity?> historyRows = [];
        // Answers stored under keys of this batch's uses by an earlier write (this process's or another's), found
        // when the insert of a key failed with 409.
        Dictionary<string, Outcome> replays = new(StringComparer.Ordinal);
        for (var attempt = 0; ; attempt++)
        {
            MeterState? stored;
            lock (meter)
            {
                stored = Environment.TickCount64 < meter.ReadFirstUntil ? null : meter.Known;
            }

            stored ??= await ReadAsync(key);
            var today = UsageDay.DayOf(time.GetUtcNow());
            var resolution = options.Value.Tokens.LastUsedResolution;
            var working = stored?.Clone() ?? new MeterState();
            var outcomes = new Outcome?[batch.Count];
            var past = new List<int>();
            var later = new List<Use>();
            var failed = new List<(int Use, Exception Error)>();
            var keysWritten = new List<TableEntity>();
            for (var i = 0; i < batch.Count; i++)
            {
                if (batch[i].RequestKey is { } requestKey)
                {
                    // A key counted before (stored, or earlier in this batch) answers as it did then and changes nothing.
                    if (replays.TryGetValue(requestKey, out var replay))
                    {
                        outcomes[i] = replay;
                        continue;
                    }
                }


                // A use whose arithmetic throws (input no boundary should have let through) fails alone: the state
                // goes back to what it was before it, and the batch's other uses, possibly other callers', go on.
                var before = working.Snapshot();
                Placement placement;
                Outcome outcome;
                try
                {
                    placement = working.Apply(batch[i], today, resolution, key, out outcome);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or ArithmeticException)
                {
                    working = before;
                    failed.Add((i, e));
                    continue;
                }

                switch (placement)
                {
                    case Placement.Applied:
                        outcomes[i] = outcome;
                        if (batch[i].RequestKey is { } counted && outcome.Usage is { Added: true } usage)
                        {
                            keysWritten.Add(new TableEntity(key, RequestPrefix + counted)
                            {
                                ["At"] = batch[i].Count!.At,
                                ["Outcome"] = UsageReplay.Encode(outcome.Bucket, usage),
                            });
                            replays[counted] = outcome with { Replayed = true };
                        }

                        break;
                    case Placement.PastDay:
                        // The bucket part (if any) was applied; the count goes to that day's history row below.
                        outcomes[i] = outcome;
                        past.Add(i);
                        break;
                    default:
                        later.Add(batch[i]);
                        break;
                }
            }

            if (working.Changed)
            {
                try
                {
                    if (working.Day is { } counted && counted != stored?.Day && working.OwnerId is { } owner)
                    {
                        // The first count of a token's day: list the token under that day for spending analytics,
                        // once a day per token, before the count exists (so no counted day is missing from it).
                        await storage.AddActivityAsync(counted, key, owner);
                    }

                    if (keysWritten.Count > 0 && working.KeysIndexed != today)
                    {
                        // The purge index first, once a day per token with keys (as IndexNewKeyAsync does for usage).
                        await storage.AddAsync(PurgeIndex.UsageRequests, PurgeIndex.Midnight(today.AddDays(2)), key, CancellationToken.None);
                        working.KeysIndexed = today;
                    }

                    var (written, etag) = await WriteAsync(key, stored, working, historyRows, today, keysWritten);
                    working.Stored(written, etag);
                }
                catch (TableTransactionFailedException e) when (e.Status == TableEntities.Conflict
                    && e.FailedTransactionActionIndex >= (working.Rollover is null ? 1 : 2) && storage.MayRetry(attempt))
                {
                    // A key is stored already: a repeat of a use counted by an earlier write (another process's, or
                    // one whose answer was lost). Nothing of this write happened; read the batch's stored keys and
                    // decide the batch again, answering those uses from what they stored.
                    await ReadReplaysAsync(key, batch, replays);
                    continue;
                }
                catch (RequestFailedException e) when (IsLostRace(e) && storage.MayRetry(attempt))
                {
                    if (e is TableTransactionFailedException { FailedTransactionActionIndex: 1, Status: TableEntities.Conflict } && working.Rollover is { } day)
                    {
                        // The finished day's row exists already (written after the fact); add to it next time.
                        historyRows[day.Day] = await Table.FindAsync(key, DayPrefix + DayKey(day.Day), CancellationToken.None);
                    }

                    lock (meter)
                    {
                        meter.Known = null;
                        meter.ReadFirstUntil = Environment.TickCount64 + ReadFirstMilliseconds;
                    }

                    // Keys decided in this attempt were not stored: only those read from the table stay replays.
                    foreach (var written in keysWritten)
                    {
                        replays.Remove(written.RowKey[RequestPrefix.Length..]);
                    }

                    await storage.BackOffAsync(Operation, attempt, CancellationToken.None);
                    continue;
                }
            }

            lock (meter)
            {
                meter.Known = working.Changed ? (working.ETag is null ? null : working) : stored;
            }

            foreach (var (i, error) in failed)
            {
                batch[i].Completion.TrySetException(error);
            }

            for (var i = 0; i < batch.Count; i++)
            {
                if (outcomes[i] is { } outcome && !past.Contains(i))
                {
                    batch[i].Completion.TrySetResult(outcome);
                }
            }

            foreach (var i in past)
            {
                try
                {
                    var count = batch[i].Count!;
                    if (working.OwnerId is { } owner)
                    {
                        await storage.AddActivityAsync(count.Day, key, owner);
                    }

                    var usage = await AddToPastDayAsync(key, count, batch[i].RequestKey);
                    batch[i].Completion.TrySetResult(outcomes[i]! with { Usage = usage });
                }
                catch (Exception e)
                {
                    batch[i].Completion.TrySetException(e);
                }
            }

            return later;
        }
    }

    private static bool IsLostRace(RequestFailedException e) =>
        e.Status is TableEntities.PreconditionFailed or TableEntities.NotFound or TableEntities.Conflict;

    private async Task<MeterState?> ReadAsync(string key) =>
        await Table.FindAsync(key, LimitsKey, CancellationToken.None) is { } entity ? MeterState.From(entity) : null;

    /// <summary>Writes the decided state; returns the entity written and its new ETag (null when the answer carried none).</summary>
    private async Task<(TableEntity Written, ETag? ETag)> WriteAsync(
        string key, MeterState? stored, MeterState working, Dictionary<DateOnly, TableEntity?> historyRows, DateOnly today, List<TableEntity> keys)
    {
        var entity = working.ToEntity(key);
        // Keys go in the same entity-group transaction as the counts they answer for: both or neither.
        var keyActions = keys.Select(k => new TableTransactionAction(TableTransactionActionType.Add, k));
        if (working.Rollover is { } finished)
        {
            // The day that just ended becomes a history row in the same transaction, so it is stored exactly
            // when the counters restart; the row's key makes a second attempt of the same change fail with 409.
            var row = new TableEntity(key, DayPrefix + DayKey(finished.Day))
            {
                ["Requests"] = finished.Requests,
                ["LlmTokens"] = finished.Tokens,
                ["CostMicros"] = finished.CostMicros,
            };
            if (working.RolloverMix is { } finishedMix)
            {
                row["Mix"] = finishedMix;
            }

            TableTransactionAction history;
            if (historyRows.GetValueOrDefault(finished.Day) is { } existing)
            {
                row["Requests"] = QuotaRules.Saturating(finished.Requests, existing.GetInt64("Requests") ?? 0);
                row["LlmTokens"] = QuotaRules.Saturating(finished.Tokens, existing.GetInt64("LlmTokens") ?? 0);
                row["CostMicros"] = QuotaRules.Saturating(finished.CostMicros, existing.GetInt64("CostMicros") ?? 0);
                var mix = UsageBreakdown.Parse(existing.GetString("Mix"));
                mix.Merge(UsageBreakdown.Parse(working.RolloverMix));
                row.SetOrRemove("Mix", mix.Format());
                history = new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, existing.ETag);
            }
            else
            {
                history = new TableTransactionAction(TableTransactionActionType.Add, row);
            }

            if (stored is null)
            {
                await IndexNewKeyAsync(key, finished.Day, today);
            }

            var responses = await Table.SubmitEntityGroupAsync(
                [
                    stored is null
                        ? new TableTransactionAction(TableTransactionActionType.Add, entity)
                        : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, stored.ETag!.Value),
                    history,
                    .. keyActions,
                ],
                CancellationToken.None);
            return (entity, responses[0].Headers.ETag);
        }

        if (stored is null)
        {
            await IndexNewKeyAsync(key, working.Day ?? today, today);
        }

        if (keys.Count > 0)
        {
            var responses = await Table.SubmitEntityGroupAsync(
                [
                    stored is null
                        ? new TableTransactionAction(TableTransactionActionType.Add, entity)
                        : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, stored.ETag!.Value),
                    .. keyActions,
                ],
                CancellationToken.None);
            return (entity, responses[0].Headers.ETag);
        }

        return stored is null
            ? (entity, (await Table.AddEntityAsync(entity, CancellationToken.None)).Headers.ETag)
            : (entity, (await Table.UpdateEntityAsync(entity, stored.ETag!.Value, TableUpdateMode.Replace, CancellationToken.None)).Headers.ETag);
    }

    /// <summary>
    /// A key seen for the first time (not a token's: those get their entity and index entries when created)
    /// is indexed for the bucket purge and for the usage purge from its first day, before its entity exists.
    /// </summary>
    private Task IndexNewKeyAsync(string key, DateOnly firstDay, DateOnly today) => Task.WhenAll(
        storage.AddAsync(PurgeIndex.Buckets, PurgeIndex.Midnight(today), key, CancellationToken.None),
        storage.AddAsync(PurgeIndex.Usage, PurgeIndex.Midnight(firstDay < today ? firstDay : today), key, CancellationToken.None));

    /// <summary>A token's days from <paramref name="from"/> to <paramref name="to"/> with their breakdowns, in one range read.</summary>
    internal async Task<Analytics.TokenActivity> ActivityAsync(string tokenId, string ownerId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {tokenId} and (RowKey eq {LimitsKey} or (RowKey ge {DayPrefix + DayKey(from)} and RowKey le {DayPrefix + DayKey(to)}))");
        var days = new Dictionary<DateOnly, (UsageDay Day, UsageBreakdown Mix)>();
        await foreach (var entity in Table.QueryAsync<TableEntity>(filter, select: ["RowKey", "Day", "Requests", "LlmTokens", "CostMicros", "Mix"], cancellationToken: cancellationToken))
        {
            var row = entity.RowKey == LimitsKey ? MeterState.From(entity).Counters(tokenId) : HistoryRow(tokenId, entity);
            if (row is null || row.Day < from || row.Day > to)
            {
                continue;
            }

            var mix = UsageBreakdown.Parse(entity.GetString("Mix"));
            if (days.TryGetValue(row.Day, out var same))
            {
                same.Mix.Merge(mix);
                days[row.Day] = (QuotaRules.AddSaturating(same.Day, new UsageDelta(row.Requests, row.Tokens, row.CostMicros)), same.Mix);
            }
            else
            {
                days[row.Day] = (row, mix);
            }
        }

        return new Analytics.TokenActivity(
            tokenId, ownerId, [.. days.Values.Select(d => d.Day)], [.. days.Values.SelectMany(d => d.Mix.Days(tokenId, d.Day.Day))]);
    }

    /// <summary>Reads the stored keys of the batch's uses (point reads, in parallel) into <paramref name="replays"/>.</summary>
    private async Task ReadReplaysAsync(string key, List<Use> batch, Dictionary<string, Outcome> replays)
    {
        var wanted = batch.Where(u => u.RequestKey is not null).Select(u => u.RequestKey!).Distinct(StringComparer.Ordinal).ToList();
        var rows = await Task.WhenAll(wanted.Select(k => Table.FindAsync(key, RequestPrefix + k, CancellationToken.None)));
        for (var i = 0; i < wanted.Count; i++)
        {
            replays.Remove(wanted[i]);
            if (rows[i]?.GetString("Outcome") is { } stored)
            {
                var use = UsageReplay.Decode(key, stored);
                replays[wanted[i]] = new Outcome(use.Bucket, use.Usage, Replayed: true);
            }
        }
    }

    /// <summary>Usage of a day that is already history: that day's row, read and replaced under its ETag.</summary>
    private async Task<UsageOutcome> AddToPastDayAsync(string key, Count count, string? requestKey)
    {
        var rowKey = DayPrefix + DayKey(count.Day);
        for (var attempt = 0; ; attempt++)
        {
            if (requestKey is not null && await Table.FindAsync(key, RequestPrefix + requestKey, CancellationToken.None) is { } answered)
            {
                return UsageReplay.Decode(key, answered.GetString("Outcome")!).Usage!;
            }

            var row = await Table.FindAsync(key, rowKey, CancellationToken.None);
            var current = row is null ? new UsageDay(key, count.Day, 0, 0, 0) : HistoryRow(key, row)!;
            var outcome = count.Apply(current);
            if (!outcome.Added)
            {
                return outcome;
            }

            var after = outcome.Day;
            var entity = new TableEntity(key, rowKey) { ["Requests"] = after.Requests, ["LlmTokens"] = after.Tokens, ["CostMicros"] = after.CostMicros };
            var mix = UsageBreakdown.Parse(row?.GetString("Mix"));
            if (count.Delta.Detail is { } detail)
            {
                mix.Add(detail, count.Delta);
            }

            entity.SetOrRemove("Mix", mix.Format());
            try
            {
                if (row is null)
                {
                    await storage.AddAsync(PurgeIndex.Usage, PurgeIndex.Midnight(count.Day), key, CancellationToken.None);
                }

                if (requestKey is not null)
                {
                    await storage.AddAsync(PurgeIndex.UsageRequests, PurgeIndex.Midnight(UsageDay.DayOf(count.At).AddDays(2)), key, CancellationToken.None);
                    var answer = new TableEntity(key, RequestPrefix + requestKey) { ["At"] = count.At, ["Outcome"] = UsageReplay.Encode(null, new UsageOutcome(true, after, QuotaKind.None)) };
                    await Table.SubmitEntityGroupAsync(
                        [
                            row is null ? new TableTransactionAction(TableTransactionActionType.Add, entity) : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, row.ETag),
                            new TableTransactionAction(TableTransactionActionType.Add, answer),
                        ],
                        CancellationToken.None);
                }
                else if (row is null)
                {
                    await Table.AddEntityAsync(entity, CancellationToken.None);
                }
                else
                {
                    await Table.UpdateEntityAsync(entity, row.ETag, TableUpdateMode.Replace, CancellationToken.None);
                }

                return new UsageOutcome(true, after, QuotaRules.Exhausted(after, count.Quota));
            }
            catch (RequestFailedException e) when (IsLostRace(e) && storage.MayRetry(attempt))
            {
                await storage.BackOffAsync("Add past usage", attempt, CancellationToken.None);
            }
        }
    }

    internal static string DayKey(DateOnly day) => day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    internal static DateOnly ParseDay(string value) => DateOnly.ParseExact(value, "yyyyMMdd", CultureInfo.InvariantCulture);

    internal static UsageDay? HistoryRow(string key, TableEntity row) =>
        row.RowKey.StartsWith(DayPrefix, StringComparison.Ordinal)
            ? new UsageDay(key, ParseDay(row.RowKey[DayPrefix.Length..]), row.GetInt64("Requests") ?? 0, row.GetInt64("LlmTokens") ?? 0, row.GetInt64("CostMicros") ?? 0)
            : null;

    /// <summary>A key's queue and what this process last knew of its entity.</summary>
    private sealed class Meter
    {
        public Queue<Use> Queue { get; } = new();

        public bool Draining { get; set; }

        public MeterState? Known { get; set; }

        public long ReadFirstUntil { get; set; }
    }

    private sealed record Take(int Capacity, double RefillPerSecond, DateTimeOffset Now);

    /// <summary>A count: quota-checked (a verify), or usage that already happened (<paramref name="AfterTheFact"/>), which saturates.</summary>
    private sealed record Count(DateOnly Day, UsageDelta Delta, Quota Quota, bool AfterTheFact = false)
    {
        /// <summary>When the use was reported (stored with its idempotency key, for the purge).</summary>
        public DateTimeOffset At { get; init; }

        public UsageOutcome Apply(UsageDay current) =>
            AfterTheFact ? new UsageOutcome(true, QuotaRules.AddSaturating(current, Delta), QuotaKind.None) : QuotaRules.TryAdd(current, Delta, Quota);
    }

    /// <summary>One queued call: a take, a count, a touch, or (verify) all three, the count only if the take admits.</summary>
    private sealed class Use(Take? take, Count? count, DateTimeOffset? touch)
    {
        public Take? Take { get; } = take;

        public Count? Count { get; } = count;

        /// <summary>The use's idempotency key (null for nearly every use).</summary>
        public string? RequestKey => Count?.Delta.Detail?.RequestId;

        /// <summary>The last use to record, if every other part of the call succeeds.</summary>
        public DateTimeOffset? Touch { get; } = touch;

        public CancellationToken CancellationToken { get; set; }

        public TaskCompletionSource<Outcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Outcome(BucketTake? Bucket, UsageOutcome? Usage, bool Replayed = false);

    private enum Placement
    {
        Applied,
        PastDay,
        NextBatch,
    }

    /// <summary>The limits entity as values; <see cref="Apply"/> changes it the way the stored one will be changed.</summary>
    private sealed class MeterState
    {
        private TableEntity? carried;

        public ETag? ETag { get; private set; }

        public bool Changed { get; private set; }

        public bool HasBucket { get; private set; }

        public double Level { get; private set; }

        /// <summary>Unix milliseconds of the last take (the refill is computed from it, as in SQLite).</summary>
        public long At { get; private set; }

        public long FullAt { get; private set; }

        public DateOnly? Day { get; private set; }

        public long Requests { get; private set; }

        public long Tokens { get; private set; }

        public long CostMicros { get; private set; }

        public DateTimeOffset? LastUsedAt { get; private set; }

        /// <summary>The day this change finished, with its totals, to be stored as a history row.</summary>
        public UsageDay? Rollover { get; private set; }

        /// <summary>The current day's breakdown by provider and model (<see cref="UsageBreakdown.Format"/>), if any.</summary>
        public string? Mix { get; private set; }

        /// <summary>The finished day's breakdown, stored with <see cref="Rollover"/>.</summary>
        public string? RolloverMix { get; private set; }

        /// <summary>The last day this token's idempotency keys were put in the purge index.</summary>
        public DateOnly? KeysIndexed { get; set; }

        public static MeterState From(TableEntity entity) => new()
        {
            carried = entity,
            ETag = entity.ETag == default ? null : entity.ETag,
            HasBucket = entity.ContainsKey("Level"),
            Level = entity.GetDouble("Level") ?? 0,
            At = entity.GetInt64("At") ?? 0,
            FullAt = entity.GetInt64("FullAt") ?? 0,
            Day = entity.GetString("Day") is { } day ? ParseDay(day) : null,
            Requests = entity.GetInt64("Requests") ?? 0,
            Tokens = entity.GetInt64("LlmTokens") ?? 0,
            CostMicros = entity.GetInt64("CostMicros") ?? 0,
            LastUsedAt = entity.GetDateTimeOffset("LastUsedAt"),
            Mix = entity.GetString("Mix"),
            KeysIndexed = entity.GetString("KeysIndexed") is { } indexed ? ParseDay(indexed) : null,
        };

        /// <summary>An exact copy, to go back to if applying a use fails.</summary>
        public MeterState Snapshot() => (MeterState)MemberwiseClone();

        public MeterState Clone()
        {
            var copy = (MeterState)MemberwiseClone();
            copy.Changed = false;
            copy.Rollover = null;
            copy.RolloverMix = null;
            return copy;
        }

        /// <summary>The token's owner (a bucket key that is no token has none).</summary>
        public string? OwnerId => carried?.GetString("OwnerId");

        public UsageDay? Counters(string key) => Day is { } day ? new UsageDay(key, day, Requests, Tokens, CostMicros) : null;

        public void Stored(TableEntity written, ETag? etag)
        {
            ETag = etag;
            Rollover = null;
            RolloverMix = null;
            carried = written;
        }

        public TableEntity ToEntity(string key)
        {
            // Properties this class does not model (a token's owner and digest) are carried over unchanged.
            var entity = new TableEntity(key, LimitsKey);
            foreach (var (name, value) in carried ?? new TableEntity())
            {
                if (name is not ("PartitionKey" or "RowKey" or "Timestamp" or "odata.etag"))
                {
                    entity[name] = value;
                }
            }

            if (HasBucket)
            {
                entity["Level"] = Level;
                entity["At"] = At;
                entity["FullAt"] = FullAt;
            }

            if (Day is { } day)
            {
                entity["Day"] = DayKey(day);
                entity["Requests"] = Requests;
                entity["LlmTokens"] = Tokens;
                entity["CostMicros"] = CostMicros;
            }

            entity.SetOrRemove("LastUsedAt", LastUsedAt);
            entity.SetOrRemove("Mix", Mix);
            entity.SetOrRemove("KeysIndexed", KeysIndexed is { } indexed ? DayKey(indexed) : null);
            return entity;
        }

        public Placement Apply(Use use, DateOnly today, TimeSpan resolution, string key, out Outcome outcome)
        {
            outcome = new Outcome(null, null);
            var placement = Placement.Applied;
            if (use.Count is { } count)
            {
                // Where the count goes, decided before anything changes. A day before the current one is
                // history; without counters yet, any day before today is. A second day change within one
                // write waits for the next write (one history row per transaction keeps it simple).
                if (Day is { } current ? count.Day < current : count.Day < today)
                {
                    placement = Placement.PastDay;
                }
                else if (Day is { } open && count.Day > open && Rollover is not null)
                {
                    return Placement.NextBatch;
                }
            }

            BucketTake? take = null;
            if (use.Take is { } bucket)
            {
                take = TakeOne(bucket);
                if (!take.Admitted)
                {
                    outcome = new Outcome(take, null);
                    return Placement.Applied;
                }
            }

            UsageOutcome? usage = null;
            if (use.Count is { } counted && placement == Placement.Applied)
            {
                usage = Add(key, counted);
            }

            if (use.Touch is { } at && (usage is null || usage.Added) && placement == Placement.Applied
                && (ETag is not null || Changed) && (LastUsedAt is null || at - LastUsedAt >= resolution && at > LastUsedAt))
            {
                // Only an existing entity records a use: touching an unknown token must not create one. Within the
                // resolution of the stored time nothing changes, as IronAuth:Tokens:LastUsedResolution promises
                // (here for the token, whichever process uses it).
                LastUsedAt = at;
                Changed = true;
            }

            outcome = new Outcome(take, usage);
            return placement;
        }

        private BucketTake TakeOne(Take take)
        {
            var stored = HasBucket ? new BucketState(Level, At) : (BucketState?)null;
            if (BucketState.Take(stored, take.Capacity, take.RefillPerSecond, take.Now.ToUnixTimeMilliseconds(), out var outcome) is { } after)
            {
                (Level, At, FullAt) = (after.Level, after.At, after.FullAt(take.Capacity, take.RefillPerSecond));
                HasBucket = true;
                Changed = true;
            }

            return outcome;
        }

        private UsageOutcome Add(string key, Count count)
        {
            if (Day is { } open && count.Day > open)
            {
                Rollover = new UsageDay(key, open, Requests, Tokens, CostMicros);
                RolloverMix = Mix;
                Mix = null;
                Requests = Tokens = CostMicros = 0;
                Day = count.Day;
                Changed = true;
            }

            Day ??= count.Day;
            var outcome = count.Apply(new UsageDay(key, count.Day, Requests, Tokens, CostMicros));
            if (outcome.Added)
            {
                (Requests, Tokens, CostMicros) = (outcome.Day.Requests, outcome.Day.Tokens, outcome.Day.CostMicros);
                if (count.Delta.Detail is { HasBreakdown: true } detail)
                {
                    // Only uses with detail touch the breakdown text; the common path never parses it.
                    var mix = UsageBreakdown.Parse(Mix);
                    mix.Add(detail, count.Delta);
                    Mix = mix.Format();
                }

                Changed = true;
            }

            return outcome;
        }
    }
}
