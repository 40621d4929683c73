namespace Hybrid.Core.Nn.Formats;

/// <summary>Writes a file so that readers see the old file or the complete new one, never a part: the bytes go to a
/// temporary file in the target's folder, reach the disk, and the temporary file is renamed over the target.</summary>
internal static class AtomicFile
{
    /// <summary>Creates <paramref name="path"/> (replacing any file there) with what <paramref name="write"/> writes.
    /// When <paramref name="write"/> throws, the temporary file is deleted and the target is left as it was.</summary>
    public static void Write(string path, Action<FileStream> write)
    {
        var fullPath = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(fullPath)!;
        // Same folder as the target: a rename within one file system is atomic, across them it is a copy.
        var temporary = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None,
                       bufferSize: 1 << 20))
            {
                write(stream);
                // Without this the rename can reach the disk before the data does, and a crash would leave a
                // complete-looking file full of zeros.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
            throw;
        }
    }
}
