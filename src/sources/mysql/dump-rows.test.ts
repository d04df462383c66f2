import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DumpRowCounter } from './dump-rows.js';

const dump = `-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS \`notes\`;
CREATE TABLE \`notes\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`body\` text,
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB;

LOCK TABLES \`notes\` WRITE;
/*!40000 ALTER TABLE \`notes\` DISABLE KEYS */;
INSERT INTO \`notes\` VALUES (1,'plain'),(2,'with (parens) and ),( inside'),(3,'it\\'s escaped \\\\'),(4,'doubled '' quote'),(5,NULL),(6,0x28290A3B);
INSERT INTO \`notes\` VALUES (7,'second statement; with a semicolon'),(8,'ünïcödé (');
/*!40000 ALTER TABLE \`notes\` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS \`we\`\`ird\`;
CREATE TABLE \`we\`\`ird\` (
  \`x\` int
);
LOCK TABLES \`we\`\`ird\` WRITE;
INSERT INTO \`we\`\`ird\` VALUES (1);
UNLOCK TABLES;
CREATE TABLE \`tall\` (
  \`s\` text
);
LOCK TABLES \`tall\` WRITE;
INSERT INTO \`tall\` VALUES
('a),(b'),
(NULL),
('x\\\\');
UNLOCK TABLES;
CREATE TABLE \`empty\` (
  \`x\` int
);
LOCK TABLES \`empty\` WRITE;
UNLOCK TABLES;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER t AFTER INSERT ON notes FOR EACH ROW
INSERT INTO \`audit\` VALUES (NEW.id),(2) */;;
DELIMITER ;
/*!50001 CREATE VIEW \`v\` AS SELECT 1 AS \`a\` */;
`;

test('dump row counts: every table of a dump, whatever its strings hold, however the stream is cut', () => {
  const want = new Map([
    ['notes', 8],
    ['we`ird', 1],
    ['tall', 3],
    ['empty', 0],
  ]);
  const whole = new DumpRowCounter();
  whole.feed(Buffer.from(dump));
  assert.deepEqual(whole.result(), want);
  const bytes = Buffer.from(dump);
  for (let cut = 1; cut < bytes.length; cut++) {
    const c = new DumpRowCounter();
    c.feed(bytes.subarray(0, cut));
    c.feed(bytes.subarray(cut));
    assert.deepEqual(c.result(), want, `cut at ${cut}`);
  }
  const byByte = new DumpRowCounter();
  for (let i = 0; i < bytes.length; i++) byByte.feed(bytes.subarray(i, i + 1));
  assert.deepEqual(byByte.result(), want);
});

test('dump row counts: none rather than wrong ones', () => {
  const cases: [string, string][] = [
    ['a dump cut inside an INSERT', dump.slice(0, dump.indexOf("(3,'it"))],
    ['rows written with REPLACE', dump.replace('INSERT INTO `we``ird` VALUES (1);', 'REPLACE INTO `we``ird` VALUES (1);')],
    ['rows with column lists', dump.replace('INSERT INTO `we``ird` VALUES (1);', 'INSERT INTO `we``ird` (`x`) VALUES (1);')],
    ['rows outside a table\'s section (--skip-add-locks)', dump.replace(/^(LOCK|UNLOCK) TABLES.*\n/gm, '')],
  ];
  for (const [what, text] of cases) {
    const c = new DumpRowCounter();
    c.feed(Buffer.from(text));
    assert.equal(c.result(), undefined, what);
  }
});
