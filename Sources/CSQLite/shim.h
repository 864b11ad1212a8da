// The system SQLite, for the provider's mailbox store.
#include <sqlite3.h>
