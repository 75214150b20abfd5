# postgres@esclavo (still the primary): rows that must survive the switchover (the commit waits for maestro).
psql -X -q -c "INSERT INTO prueba_replicacion (texto) VALUES ('antes del switchover 1'), ('antes del switchover 2');"
