-- sitroom 0011: casualty figures a report may carry (deaths, injured, missing, trapped), as
-- the reporter counted them at the report's time; NULL where the report says nothing. The
-- situation report sums the latest figures of each source (incidents/store/command.py).
ALTER TABLE reports
    ADD COLUMN deaths integer CHECK (deaths >= 0),
    ADD COLUMN injured integer CHECK (injured >= 0),
    ADD COLUMN missing integer CHECK (missing >= 0),
    ADD COLUMN trapped integer CHECK (trapped >= 0);
