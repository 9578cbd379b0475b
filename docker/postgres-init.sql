-- Runs once, when the postgres container initialises its data volume: one role for Temporal (it
-- creates its own two databases through the schema tool) and one for the service's own database.
CREATE ROLE temporal LOGIN PASSWORD 'temporal' CREATEDB;
CREATE ROLE sistava LOGIN PASSWORD 'sistava';
CREATE DATABASE sistava OWNER sistava;
