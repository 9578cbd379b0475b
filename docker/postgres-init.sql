-- Runs once, when the postgres container initialises its data volume: one role for Temporal (it
-- creates its own two databases through the schema tool), one that owns the service's database and
-- runs its migrations, and the application role the API and workers connect as (the migration
-- grants it INSERT and SELECT on the ledger and what else the service's statements need).
CREATE ROLE temporal LOGIN PASSWORD 'temporal' CREATEDB;
CREATE ROLE sistava LOGIN PASSWORD 'sistava';
CREATE DATABASE sistava OWNER sistava;
CREATE ROLE sistava_app LOGIN PASSWORD 'sistava_app' NOSUPERUSER NOCREATEDB NOCREATEROLE;
