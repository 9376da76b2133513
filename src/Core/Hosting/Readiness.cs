using IronAuth.Core.Signing;

namespace IronAuth.Core.Hosting;

/// <summary>
/// What start-up has finished: the schema created or migrated, the bootstrap admin settled, the signing key loaded.
/// Liveness (<c>/api/health</c>) says the process answers; readiness (<c>/api/health/ready</c>) says it can do its work,
/// which a load balancer or the Functions host should wait for before sending traffic.
/// </summary>
public sealed class Readiness(SigningKeys signingKeys)
{
    private volatile bool schema;
    private volatile bool bootstrap;
    private volatile bool signingKey;
    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Schema => schema;

    /// <summary>
    /// Completes once start-up has settled the schema and the bootstrap admin. A host may route requests before that
    /// (the Functions host does as soon as the functions have loaded): nothing but health may be served until then,
    /// or a sign-in could be refused for an admin that is about to exist.
    /// </summary>
    public Task Started => started.Task;

    public bool Bootstrap => bootstrap;

    /// <summary>
    /// Whether the signing key is loaded. A key that failed to load at start (the store or Key Vault was unreachable) is
    /// tried again here, as any request needing it would, so readiness comes back once the cause is gone.
    /// </summary>
    public async Task<bool> SigningKeyAsync()
    {
        if (!signingKey)
        {
            try
            {
                await signingKeys.GetAsync();
                signingKey = true;
            }
            catch (Exception)
            {
                // Why it fails is logged where the load is made; readiness only says it is not there yet.
            }
        }

        return signingKey;
    }

    internal void SchemaDone() => schema = true;

    internal void BootstrapDone()
    {
        bootstrap = true;
        started.TrySetResult();
    }

    internal void SigningKeyLoaded() => signingKey = true;
}
