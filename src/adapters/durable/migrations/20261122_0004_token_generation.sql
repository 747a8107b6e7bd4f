-- Which session tokens an account still accepts: each token carries the generation it was issued
-- in, and a password change or a ban raises the account's, so that every older token stops working.
ALTER TABLE accounts ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
