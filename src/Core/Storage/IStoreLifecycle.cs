namespace IronAuth.Core.Storage;

/// <summary>Schema creation and health of whichever store is configured.</summary>
public interface IStoreLifecycle
{
    /// <summary>"sqlite" or "tables", as reported by /api/health.</summary>
    string Name { get; }

    /// <summary>Creates or migrates the schema; safe to run concurrently from several processes.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<bool> IsHealthyAsync(CancellationToken cancellationToken);
}
