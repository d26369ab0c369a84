-- 100,000 accounts of bench.test in a 13-level department tree (address-book-autocomplete.sh).
-- Root (depth 1) -> 10 divisions -> 3 each -> 2 each -> then one child each down to depth 13:
-- 640 departments below the root; accounts spread evenly over all of them.
DO $$
DECLARE
    fanout int[] := ARRAY[10, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    level int;
    parent record;
    i int;
    new_id bigint;
BEGIN
    INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
    SELECT n, 'bench.test', NULL, 'bench.test', 1, ARRAY[n] FROM (SELECT nextval('directory_department_id_seq') AS n) s
    ON CONFLICT DO NOTHING;
    FOR level IN 2..13 LOOP
        FOR parent IN SELECT id, path FROM directory_department WHERE domain = 'bench.test' AND depth = level - 1 LOOP
            FOR i IN 1..fanout[level - 1] LOOP
                new_id := nextval('directory_department_id_seq');
                INSERT INTO directory_department (id, domain, parent_id, name, depth, path)
                VALUES (new_id, 'bench.test', parent.id, '部门' || level || '-' || new_id, level, parent.path || new_id);
            END LOOP;
        END LOOP;
    END LOOP;
END $$;

WITH depts AS (SELECT array_agg(id ORDER BY id) AS ids FROM directory_department WHERE domain = 'bench.test'),
surnames AS (SELECT ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭','何','高','林','罗',
                          '郑','梁','谢','宋','唐','许','韩','冯','邓','曹','彭','曾','肖','田','董','袁','潘','于','蒋','蔡'] AS s),
given AS (SELECT ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明','超','秀','霞','平',
                       '刚','桂','英','华','玉','萍','红','鹏','辉','建','国','文','斌','宇','浩','凯','健','俊','帆','琪'] AS g)
INSERT INTO directory_account (domain, local_part, display_name, title, department_id, quota_bytes, in_address_book, enabled)
SELECT 'bench.test', 'u' || i,
       CASE WHEN i % 10 = 0 THEN 'User ' || i || ' Example'
            ELSE s[1 + i % 40] || g[1 + (i / 40) % 40] || CASE WHEN i % 3 = 0 THEN '' ELSE g[1 + (i / 1600) % 40] END END,
       'Engineer', ids[1 + i % array_length(ids, 1)], 1073741824,
       i % 97 <> 0, i % 89 <> 0
FROM generate_series(1, 100000) i, depts, surnames, given
ON CONFLICT (domain, local_part) DO NOTHING;
ANALYZE directory_account;
ANALYZE directory_department;
