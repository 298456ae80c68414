package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Explain reduces a failure to connect (Open's error) to its cause: what
// PostgreSQL answered, or why no connection was made (pgx repeats the
// latter for every address and TLS mode it tried). advice says what to
// check when the cause is the connection itself; other causes (a missing
// privilege, say) carry their own, and advice is "". Neither quotes the
// password: PostgreSQL's messages do not, and a network error names the
// address only.
func Explain(err error) (cause, advice string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		cause = fmt.Sprintf("PostgreSQL refused: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		if strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000" { // authentication; no such database
			advice = "check DATABASE_URL's user, password and database name"
		}
		return cause, advice
	}
	const reach = "check DATABASE_URL and that the database accepts connections from this host"
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "cannot connect: " + opErr.Error(), reach
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return err.Error(), reach
	}
	return err.Error(), ""
}

// Target names the database at rawURL (a URL or a key=value string) by
// user, host, port and name, never the password, wherever rawURL puts it;
// "DATABASE_URL" when rawURL does not parse.
func Target(rawURL string) string {
	c, err := pgconn.ParseConfig(rawURL)
	if err != nil {
		return "DATABASE_URL"
	}
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
