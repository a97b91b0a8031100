package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

func TestDBDriverDefaultsToMySQL(t *testing.T) {
	t.Parallel()
	cfg, err := server.LoadConfig("", []string{"HERALD_MYSQL_DSN=u@tcp(db:3306)/", "HERALD_ORACLE_DSN=ignored"})
	require.NoError(t, err)
	require.Equal(t, "mysql", cfg.DBDriver)
	require.Equal(t, "u@tcp(db:3306)/", cfg.DatabaseDSN(), "the MySQL DSN is used unless the driver is oracle")

	cfg, err = server.LoadConfig("", []string{"HERALD_DB_DRIVER= MySQL "})
	require.NoError(t, err)
	require.Equal(t, "mysql", cfg.DBDriver, "the driver name is trimmed and lower-cased")
}

func TestDBDriverRejectsUnknownNames(t *testing.T) {
	t.Parallel()
	_, err := server.LoadConfig("", []string{"HERALD_DB_DRIVER=postgres"})
	require.ErrorContains(t, err, `HERALD_DB_DRIVER: "postgres" must be mysql or oracle`)

	path := writeConfigFile(t, "db_driver: sqlite\n")
	_, err = server.LoadConfig(path, nil)
	require.ErrorContains(t, err, `HERALD_DB_DRIVER: "sqlite" must be mysql or oracle`)

	_, err = server.LoadConfig("", []string{"HERALD_MYSQL_DSN="})
	require.ErrorContains(t, err, "HERALD_MYSQL_DSN: must not be empty")
}

func TestDBDriverOracle(t *testing.T) {
	t.Parallel()
	const dsn = `user="herald" password="x" connectString="db:1521/HERALD"`
	cfg, err := server.LoadConfig("", []string{"HERALD_DB_DRIVER=oracle", "HERALD_ORACLE_DSN=" + dsn})
	if !store.OracleSupported() {
		// This binary lacks the driver: the setting is refused, saying how to build one that has it.
		require.ErrorContains(t, err, "HERALD_DB_DRIVER: oracle: "+store.ErrNoOracle.Error())
		require.NotContains(t, err.Error(), "HERALD_ORACLE_DSN", "the DSN is given")
	} else {
		require.NoError(t, err)
		require.Equal(t, dsn, cfg.DatabaseDSN())
	}

	_, err = server.LoadConfig("", []string{"HERALD_DB_DRIVER=oracle"})
	require.ErrorContains(t, err, "HERALD_ORACLE_DSN: must not be empty when HERALD_DB_DRIVER is oracle")
}
