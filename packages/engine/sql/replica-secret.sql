-- What replicas of this farm show one another (never a worker or a client).
SELECT replica_secret FROM farm
