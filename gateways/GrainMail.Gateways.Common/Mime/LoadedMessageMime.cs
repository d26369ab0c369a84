using GrainMail.Gateways.Common.Messages;

namespace GrainMail.Gateways.Common.Mime;

/// <summary>IMAP's view of a cached message: its MIME tree with byte ranges, parsed once per cached copy.</summary>
public static class LoadedMessageMime
{
    private sealed class Tree(MimeNode root)
    {
        public MimeNode Root => root;
    }

    extension(LoadedMessage message)
    {
        /// <summary>The message's entity tree (<see cref="MimeNode"/>), kept with the cached bytes.</summary>
        public MimeNode Root => message.View(static raw => new Tree(MimeNode.Parse(raw))).Root;

    }
}
