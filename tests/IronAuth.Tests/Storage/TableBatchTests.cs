using Azure.Data.Tables;
using IronAuth.Core.Storage.Tables;

namespace IronAuth.Tests.Storage;

/// <summary>
/// Azurite accepts an entity-group transaction that spans two partitions, which Azure rejects with 400; no
/// emulator test can catch that, so the store's own guard must, before anything is sent.
/// </summary>
public sealed class TableBatchTests
{
    // Nothing listens here and the client does not retry: a request that got out would fail with a
    // RequestFailedException, not the guard's InvalidOperationException.
    private static readonly TableClient Unreachable = new(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        "guard",
        new TableClientOptions { Retry = { MaxRetries = 0 } });

    private static TableTransactionAction Add(string partition, string row) =>
        new(TableTransactionActionType.Add, new TableEntity(partition, row));

    [Fact]
    public async Task A_batch_spanning_two_partitions_is_refused_before_it_is_sent()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Unreachable.SubmitEntityGroupAsync([Add("session-a", "session"), Add("session-b", "rt:1")], default));

        Assert.Contains("one partition", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batches_Azure_would_refuse_are_refused()
    {
        Assert.Throws<InvalidOperationException>(() => TableBatch.EnsureOnePartition([]));
        Assert.Throws<InvalidOperationException>(() => TableBatch.EnsureOnePartition([Add("p", "same"), Add("p", "same")]));
        Assert.Throws<InvalidOperationException>(() => TableBatch.EnsureOnePartition([.. Enumerable.Range(0, 101).Select(i => Add("p", $"r{i}"))]));
        Assert.Throws<InvalidOperationException>(() => TableBatch.EnsureOnePartition([Add("p", "a"), Add("p", "b"), Add("P", "c")]));

        TableBatch.EnsureOnePartition([.. Enumerable.Range(0, 100).Select(i => Add("p", $"r{i}"))]);
    }
}
