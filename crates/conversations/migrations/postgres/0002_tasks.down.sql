DROP INDEX conversations_recent;
DROP TABLE tasks;
