using System.Diagnostics.Metrics;
using System.Numerics;

namespace IronAuth.Core.Telemetry;

/// <summary>
/// Counts by a small closed index (an outcome, a store) kept in process, read at collection by an observable
/// counter's callback (<see cref="Measurements"/>). Counting is one interlocked add whether or not anything listens:
/// no tag lookup, no listener call, no allocation.
/// </summary>
/// <remarks>
/// Each processor counts in a row of its own, 128 bytes apart (a cache line and the neighbour the prefetcher pulls
/// with it), so cores counting the same outcome at once do not pass one line back and forth, which is what made a
/// shared OpenTelemetry counter cost per request. A read sums the rows: no count is lost, and a collection racing an
/// add reports it then or at the next collection.
/// </remarks>
internal sealed class StripedCounts
{
    // In longs: 128 bytes.
    private const int Padding = 16;

    private static readonly int Stripes = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 64));

    private readonly long[] cells;
    private readonly int rowLength;

    public StripedCounts(int length)
    {
        Length = length;
        rowLength = (length + Padding - 1) / Padding * Padding;
        // A padding row on either side keeps other objects' fields off the first and last rows' lines.
        cells = new long[Padding + (Stripes * rowLength) + Padding];
    }

    public int Length { get; }

    public long this[int index]
    {
        get
        {
            long sum = 0;
            for (var stripe = 0; stripe < Stripes; stripe++)
            {
                sum += Volatile.Read(ref cells[Padding + (stripe * rowLength) + index]);
            }

            return sum;
        }
    }

    public void Increment(int index) => Interlocked.Increment(ref Cell(index));

    public void Add(int index, long value) => Interlocked.Add(ref Cell(index), value);

    /// <summary>One measurement per index counted so far, with that index's tags (made once by the caller).</summary>
    public IEnumerable<Measurement<long>> Measurements(KeyValuePair<string, object?>[][] tags)
    {
        var measurements = new List<Measurement<long>>(Length);
        for (var i = 0; i < Length; i++)
        {
            // Not yet counted: no series, as an instrument that was never added to has none.
            var count = this[i];
            if (count > 0)
            {
                measurements.Add(new Measurement<long>(count, tags[i]));
            }
        }

        return measurements;
    }

    private ref long Cell(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Length, nameof(index));
        // The processor may change before the add; the add is interlocked, so that costs a shared line once, not a count.
        return ref cells[Padding + ((Thread.GetCurrentProcessorId() & (Stripes - 1)) * rowLength) + index];
    }
}
