// Package fsys is the emulated file system at the bottom of every I/O stack, and the home of
// the ntifs.h names (create dispositions and options, FILE_* information classes and their
// structures, FO_* flags, FSCTL codes). It sits between kernel, whose primitives (NTSTATUS,
// tokens, security descriptors, the access check) it uses, and driverapi.
//
// # Volumes and files
//
// [Volume] is an emulated volume: a small in-memory file system with directories,
// files, named data streams, share access, delete-on-close and rename, which sits at the
// bottom of every I/O stack. The filter manager calls it after the last minifilter's
// pre-operation callback (Create, Read, Write, SetInformation, QueryInformation, FsControl,
// Cleanup, Close); tests seed it and read it back directly through [Volume.TestAccess],
// bypassing the filters.
//
// Decisions (NTFS behaviour, simplified):
//   - Names are compared case-insensitively and stored with the case they were created with.
//     A file name is volume-relative and starts with `\`; `\` alone is the root directory. The
//     last component may name a data stream: `file.txt:stream` or `file.txt:stream:$DATA`;
//     `file.txt::$DATA` is the default stream. Streams of directories are not supported.
//   - Share access follows IoCheckShareAccess: an open asking for none of FILE_READ_DATA,
//     FILE_EXECUTE, FILE_WRITE_DATA, FILE_APPEND_DATA or DELETE neither checks nor counts. It is
//     per stream and is released at cleanup.
//   - A file is deleted at the cleanup of its last handle once a delete is pending
//     (FileDispositionInformation, or a FILE_DELETE_ON_CLOSE handle cleaning up); a deleted
//     named stream goes the same way on its own. Opening a file with a delete pending is
//     STATUS_DELETE_PENDING.
//   - Access: a file may carry a security descriptor (nil grants everything); the read-only
//     attribute denies write access (FILE_WRITE_DATA, FILE_APPEND_DATA) and deletion
//     (STATUS_CANNOT_DELETE). A nil token in a create is a kernel-mode open: no access check.
//   - Non-cached (non-paging) I/O must be sector-aligned in offset and length, else
//     STATUS_INVALID_PARAMETER. Paging writes never extend a file: they are cut at the end of
//     file. Reads at or past the end of file are STATUS_END_OF_FILE.
//   - The current byte offset of a synchronous file object (FO_SYNCHRONOUS_IO) moves after each
//     non-paging read or write, unless the request says to keep it.
//   - A stream lives while a file object refers to it: stream contexts of minifilters end when
//     its last file object closes, which is deterministic (NTFS may keep it longer).
//
// Lock order: Volume.mu is a leaf (the filter manager takes it under its context lock; the
// module's lock-order tree is in the fltmgr package comment). The file system never calls out.
package fsys
