using BenchmarkDotNet.Running;
using IronAuth.Benchmarks;

// `bcrypt`, `roundtrips` and `verifies` are plain measurements the HTTP load script needs; anything else goes to
// BenchmarkDotNet (e.g. --filter '*Jwt*').
return args.FirstOrDefault() switch
{
    "bcrypt" => BcryptThroughput.Run(args[1..]),
    "roundtrips" => await RoundTrips.RunAsync(args[1..]),
    "verifies" => await ConcurrentVerifies.RunAsync(args[1..]),
    "instrumentation" => await InstrumentationCost.RunAsync(args[1..]),
    _ => Run(args),
};

static int Run(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(Stores).Assembly).Run(args);
    return 0;
}
