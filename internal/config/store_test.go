package config

import (
	"strings"
	"testing"
)

func TestStoreDefaultsToSQLite(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != (StoreConfig{Driver: StoreSQLite}) {
		t.Fatalf("default store = %+v", cfg.Store)
	}
}

func TestStoreFromFileAndEnv(t *testing.T) {
	p := writeFile(t, "store:\n  driver: postgres\n  dsn: postgres://from-file/db\n")
	cfg, err := Load(p, []string{"MINIRTC_STORE_DSN=postgres://u:pw@from-env:5432/minirtc"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != StorePostgres || cfg.Store.DSN != "postgres://u:pw@from-env:5432/minirtc" {
		t.Fatalf("store = %+v", cfg.Store)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load("", []string{"MINIRTC_STORE_DRIVER=postgres", "MINIRTC_STORE_DSN=host=/run/postgresql dbname=minirtc"})
	if err != nil || cfg.Validate() != nil || cfg.Store.DSN != "host=/run/postgresql dbname=minirtc" {
		t.Fatalf("store from env = %+v, %v", cfg.Store, err)
	}
}

func TestStoreValidation(t *testing.T) {
	for _, c := range []struct {
		s    StoreConfig
		want string // "" = valid
	}{
		{StoreConfig{Driver: "sqlite"}, ""},
		{StoreConfig{Driver: "postgres", DSN: "postgres://db/minirtc"}, ""},
		{StoreConfig{Driver: "postgres"}, "needs store.dsn"},
		{StoreConfig{Driver: "postgres", DSN: "  "}, "needs store.dsn"},
		{StoreConfig{Driver: "sqlite", DSN: "postgres://db/minirtc"}, "store.dsn is set"},
		{StoreConfig{Driver: ""}, "store.driver must be"},
		{StoreConfig{Driver: "mysql"}, `got "mysql"`},
	} {
		cfg := Default()
		cfg.Store = c.s
		err := cfg.Validate()
		if c.want == "" && err != nil {
			t.Errorf("%+v: %v", c.s, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: error %v, want one containing %q", c.s, err, c.want)
		}
	}
}
