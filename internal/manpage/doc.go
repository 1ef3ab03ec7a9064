// Package manpage holds the commands' manual pages to their command lines:
// Missing lists the options a command's --help prints that its roff page
// does not document, and Check reads a page to do so. It owns no page
// (they are in packaging/man), writes nothing, and is used by tests only.
package manpage
