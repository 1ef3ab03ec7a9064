// Package safefile writes the files vigild creates as root in directories
// that other users may be able to reach: the SIGUSR1/SIGUSR2 dump files and
// the pid file. The control socket's directory is checked with it too.
//
// What it owns:
//   - resolving a directory path without trusting anyone but root
//     ([OpenDir]): the path is walked from "/" one component at a time with
//     openat(O_DIRECTORY|O_NOFOLLOW), every directory on the way must be
//     owned by root (or by the calling user) and must not be writable by
//     group or others unless it is sticky (like /tmp). A symlink on the way
//     is followed only when root owns it, since only root can change it.
//     Everything afterwards happens relative to the open directory, so a
//     path that is renamed or replaced meanwhile cannot redirect a write;
//   - replacing a file's contents ([Dir.WriteFile]): the data goes into a
//     new file created with O_CREAT|O_EXCL|O_NOFOLLOW under a random name in
//     that directory, is fsynced, and renamed over the target. rename never
//     follows a symlink and never opens what it replaces, so a symlink, a
//     FIFO, a device or a file another user created at the target is
//     replaced as a directory entry and never written into, and nothing
//     blocks; the new file is owned by root with the mode asked for. In a
//     sticky directory nobody but root and the directory's owner can remove
//     or rename root's entries, so the file stays what was written;
//   - the pid file ([CreatePIDFile]): an advisory lock (flock LOCK_EX|LOCK_NB,
//     held for the life of the process) decides whether another process
//     owns it, not whether some process has the PID written in it. The file
//     is opened with O_NOFOLLOW|O_NONBLOCK|O_NOCTTY only after lstat shows a
//     regular file owned by the caller with one link; anything else at the
//     name (a symlink, FIFO, device, socket, another user's or a hard-linked
//     file) is unlinked and a new file created with O_EXCL. Removing it
//     ([PIDFile.Close]) unlinks the name only while it still refers to the
//     locked file.
//
// What it must not do: create anything outside the directories it was
// given, open an existing entry it has not checked with lstat first, or
// block on what it opens.
//
// Concurrency: a [Dir] and a [PIDFile] may be used from one goroutine at a
// time; the functions hold no package state.
package safefile
