//go:build oracle

package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/godror/godror"
)

// With the oracle build tag, Config.Driver "oracle" connects through godror, which needs cgo
// and the Oracle Instant Client at run time. Each Herald database is a schema of the same
// name, which the DBA creates (Herald does not create Oracle users); every session of a pool
// sets it as its CURRENT_SCHEMA.
func init() {
	openOracle = func(ctx context.Context, dsn, schema string) (*sql.DB, error) {
		params, err := godror.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("invalid Oracle DSN: %w", err)
		}
		params.SetSessionParamOnInit("CURRENT_SCHEMA", Oracle{}.Quote(schema))
		params.SetSessionParamOnInit("TIME_ZONE", "UTC")
		// Costs are bound as decimal text ("12.3400"), read with "." whatever the territory.
		params.SetSessionParamOnInit("NLS_NUMERIC_CHARACTERS", ".,")
		db := sql.OpenDB(godror.NewConnector(params))
		db.SetMaxOpenConns(64)
		db.SetMaxIdleConns(32)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("error connecting to Oracle schema %s: %w", schema, err)
		}
		return db, nil
	}
}
