# postgres@maestro: a change to see replicated (the tutorial used pgAdmin III).
psql -q -c "CREATE TABLE IF NOT EXISTS prueba_replicacion (id serial PRIMARY KEY, texto text, creado timestamptz DEFAULT now());"
psql -q -c "INSERT INTO prueba_replicacion (texto) VALUES ('uno'), ('dos'), ('tres');"
