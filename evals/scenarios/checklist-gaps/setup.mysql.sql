CREATE TABLE page_views (id int PRIMARY KEY AUTO_INCREMENT, path varchar(200) NOT NULL, viewed_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB;
INSERT INTO page_views (path) SELECT CONCAT('/p/', seq) FROM seq_1_to_1000;
ALTER TABLE page_views AUTO_INCREMENT = 2000000000;
INSERT INTO page_views (path) VALUES ('/latest');
