// Output that must reach a pipe before the process moves on.
import Foundation

/// Flushes standard output (lines written with print may sit in its buffer when piped).
func flushOutput() { fflush(nil) }
