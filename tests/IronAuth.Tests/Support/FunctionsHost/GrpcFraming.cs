using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace IronAuth.Tests.Support.FunctionsHost;

/// <summary>
/// gRPC's length-prefixed messages over an HTTP/2 stream: one byte compression flag (always 0 here: the stand-in
/// advertises no compression), a big-endian 32-bit length, then the message.
/// </summary>
internal static class GrpcFraming
{
    private const int HeaderLength = 5;

    /// <summary>Hands every whole message to <paramref name="onMessage"/> until the peer ends its side of the stream.</summary>
    public static async Task ReadAllAsync(PipeReader reader, Action<ReadOnlySequence<byte>> onMessage, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            while (TryReadMessage(ref buffer, out var message))
            {
                onMessage(message);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted || read.IsCanceled)
            {
                return;
            }
        }
    }

    public static async Task WriteAsync(PipeWriter writer, byte[] message, CancellationToken cancellationToken)
    {
        var header = writer.GetSpan(HeaderLength);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)message.Length);
        writer.Advance(HeaderLength);
        writer.Write(message);
        await writer.FlushAsync(cancellationToken);
    }

    private static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        if (header[0] != 0)
        {
            throw new InvalidDataException("The worker sent a compressed gRPC message; the stand-in accepts none.");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (buffer.Length < HeaderLength + length)
        {
            return false;
        }

        message = buffer.Slice(HeaderLength, length);
        buffer = buffer.Slice(HeaderLength + length);
        return true;
    }
}
